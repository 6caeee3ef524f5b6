// A reference-counted block of memory on a device. Views share one Storage; the last owner frees it.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "tensor/device.h"

namespace sn {

// Device memory comes from an Allocator so that a CUDA backend only has to provide another one.
class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  // nbytes: what allocate() was asked for.
  virtual void deallocate(void* p, size_t nbytes) noexcept = 0;
};

// 64-byte aligned host memory (one cache line, one AVX-512 vector), from tensor/host_memory.h.
//
// Large blocks (activations, gradients) are recycled: a freed block of >= 256 KiB is kept and
// handed to a later request of up to its size (but at least half of it), because every fresh
// block costs a page fault per 4 KiB on first touch, which profiling measured at 18% of a VGG16
// forward pass. The cache is bounded so that memory still goes back to the system:
//   * resident memory stays at or below the program's high-water mark of live blocks: before a
//     fresh block is allocated, cached blocks smaller than it are freed until live + cached + new
//     fits under the mark, so the cache raises the peak RSS of a run (blocks in use counted at
//     their size) only where that would take freeing a block over 4x the new one, and then by
//     no more than the new block (a repeated sequence of calls then settles with no misses);
//   * the cache holds at most the live large blocks' size + 32 MB, so it shrinks as a job's
//     memory is freed (activations recycle through a forward pass, whose live memory includes
//     the weights; after the job, almost everything is returned);
//   * at most STYLENET_CPU_CACHE_MB (default 1024; 0 disables caching) is cached at any time;
//   * release_cpu_cache() frees every cached block (e.g. after a batch of inference), and the
//     pages tensor/host_memory.h keeps for a while after a large block is freed.
Allocator& cpu_allocator();
Allocator& allocator_for(Device device);

struct CpuCacheStats {
  size_t cached_bytes = 0;  // freed blocks held for reuse
  size_t live_bytes = 0;    // large blocks in use (at their block size)
  size_t peak_bytes = 0;    // the bound for live + cached: their high-water mark (see above)
  size_t hits = 0, misses = 0;
};
CpuCacheStats cpu_cache_stats();
void release_cpu_cache();

class Storage {
 public:
  Storage(size_t nbytes, Device device);
  // Host memory someone else owns (a weight file's mapping, tensor/tensor.h's Tensor::wrap): kept
  // valid by `owner` for as long as the storage lives, never freed by it.
  Storage(void* data, size_t nbytes, std::shared_ptr<const void> owner);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

  // What the convolution kernels' cache of transformed weights (tensor/cpu/weight_cache.h) keys
  // on: an id no other Storage of this process ever has, and a version that every in-place write
  // to parameters bumps (Tensor::copy_from, fill, add_, the init functions, optimizer steps). A
  // writer that skips the bump would let a convolution run on stale weights; tests/test_weight_cache.cpp
  // checks each writer.
  uint64_t id() const { return id_; }
  uint64_t version() const { return version_.load(std::memory_order_acquire); }
  void bump_version() { version_.fetch_add(1, std::memory_order_acq_rel); }
  // Set when a cache entry names this storage, so that freeing it drops those entries.
  void mark_cached() { cached_.store(true, std::memory_order_relaxed); }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  std::shared_ptr<const void> owner_;  // set for memory someone else owns
  uint64_t id_;
  std::atomic<uint64_t> version_{0};
  std::atomic<bool> cached_{false};
};

}  // namespace sn
