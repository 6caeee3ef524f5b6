// Reusable scratch memory for the fast kernels (im2col columns, Winograd tiles, ...).
//
// A convolution at VGG sizes needs megabytes of scratch per call. Allocating it fresh every call
// costs page faults and zeroing on each of the ~40 convolutions of a training step, so buffers are
// kept in a small pool and handed out as leases: a lease takes a buffer (growing it if needed)
// and gives it back when it goes out of scope. Leases are not tied to threads, so a kernel called
// concurrently from two threads, or re-entered while a TBB wait steals other work, simply takes
// two different buffers; a thread is only handed back a buffer it gave back itself where one fits
// (its lines may still be in that core's cache). release_workspaces() frees the pooled memory
// (e.g. after inference).
#pragma once
#include <cstddef>

namespace sn::cpu {

class WorkspaceLease {
 public:
  // At least `floats` floats, 64-byte aligned, contents unspecified.
  explicit WorkspaceLease(size_t floats);
  ~WorkspaceLease();
  WorkspaceLease(const WorkspaceLease&) = delete;
  WorkspaceLease& operator=(const WorkspaceLease&) = delete;

  float* data() const { return data_; }

 private:
  float* data_ = nullptr;
  size_t capacity_ = 0;
};

// Frees every pooled buffer not currently leased.
void release_workspaces();
// Bytes held by the pool (leased or not), for tests and memory reports.
size_t workspace_bytes();

}  // namespace sn::cpu
