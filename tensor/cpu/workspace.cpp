#include "tensor/cpu/workspace.h"

#include "tensor/host_memory.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>
#include <vector>

namespace sn::cpu {

namespace {

struct Buffer {
  float* data;
  size_t capacity;      // floats
  uint64_t last_by;     // the thread that gave it back (this_thread_tag)
};

// A number per thread, never reused (an exited thread's thread_local address may be), for last_by:
// compared only, never used as an index.
uint64_t this_thread_tag() {
  static std::atomic<uint64_t> next{1};
  static thread_local const uint64_t tag = next.fetch_add(1);
  return tag;
}

struct Pool {
  std::mutex mu;
  std::vector<Buffer> free;  // buffers not leased
  size_t total_floats = 0;   // leased + free
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: leases may outlive static destruction order
  return *p;
}

// Host memory as tensors get it (huge pages from 64 KiB up: the weight cache's packed weights
// live in leases, and faulting them in 4 KiB at a time cost a third of a cold VGG16 pass).
float* allocate(size_t floats) { return static_cast<float*>(host_allocate(floats * sizeof(float))); }
void deallocate(float* p, size_t floats) { host_free(p, floats * sizeof(float)); }

}  // namespace

WorkspaceLease::WorkspaceLease(size_t floats) {
  floats = std::max<size_t>(floats, 16);
  Pool& p = pool();
  {
    std::lock_guard lock(p.mu);
    // Best fit among the free buffers large enough, preferring one this thread gave back if it is
    // at most twice the request: its lines are likely still in this core's cache, where the other
    // core's would cost a store to lines another core holds (on the README's VM a tenth of the
    // speed, docs/measuring.md). VGG16 at 224, 2 threads, each thread's Winograd blocks taking
    // their V and M back: conv1_2 4.25 -> 4.13 ms, conv3_1 2.17 -> 2.06 (6 ABBA rounds). Else take
    // the largest and grow it (so the pool converges to a few buffers of the sizes actually used).
    const uint64_t me = this_thread_tag();
    const auto better = [&](const Buffer& a, const Buffer& b) {
      const auto mine = [&](const Buffer& x) { return x.last_by == me && x.capacity <= 2 * floats; };
      return mine(a) != mine(b) ? mine(a) : a.capacity < b.capacity;
    };
    auto best = p.free.end();
    for (auto it = p.free.begin(); it != p.free.end(); ++it)
      if (it->capacity >= floats && (best == p.free.end() || better(*it, *best))) best = it;
    if (best == p.free.end() && !p.free.empty())
      best = std::max_element(p.free.begin(), p.free.end(),
                              [](const Buffer& a, const Buffer& b) { return a.capacity < b.capacity; });
    if (best != p.free.end()) {
      data_ = best->data;
      capacity_ = best->capacity;
      p.free.erase(best);
    }
    if (capacity_ < floats) {
      p.total_floats += floats - capacity_;
    }
  }
  if (capacity_ < floats) {
    if (data_) deallocate(data_, capacity_);
    data_ = allocate(floats);
    capacity_ = floats;
  }
}

WorkspaceLease::~WorkspaceLease() {
  Pool& p = pool();
  std::lock_guard lock(p.mu);
  p.free.push_back({data_, capacity_, this_thread_tag()});
}

void release_workspaces() {
  Pool& p = pool();
  std::lock_guard lock(p.mu);
  for (const Buffer& b : p.free) {
    deallocate(b.data, b.capacity);
    p.total_floats -= b.capacity;
  }
  p.free.clear();
}

size_t workspace_bytes() {
  Pool& p = pool();
  std::lock_guard lock(p.mu);
  return p.total_floats * sizeof(float);
}

}  // namespace sn::cpu
