#include "tensor/storage.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "tensor/cpu/weight_cache.h"
#include "tensor/cuda/cuda.h"
#include "tensor/env.h"
#include "tensor/error.h"

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace sn {

namespace {

[[noreturn]] void out_of_memory(size_t nbytes) {
  throw Error(detail::cat("out of memory: could not allocate ", nbytes, " bytes"));
}

#ifdef __linux__
// Blocks of at least this size are mapped on their own, 2 MiB aligned, and marked for transparent
// huge pages. Where the kernel grants them (THP "madvise" or "always"), first touch faults once
// per 2 MiB instead of once per 4 KiB: a cold `stylize` of a 64 x 64 photo with a 512 px style
// spent 21 % of its time in page faults on fresh activations (perf, this VM), each ~10 us.
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kHugeMin = 2 * kHugePage;

size_t huge_rounded(size_t nbytes) { return (nbytes + kHugePage - 1) / kHugePage * kHugePage; }

void* map_huge(size_t nbytes) {
  const size_t size = huge_rounded(nbytes);
  // Over-map by one huge page and trim, so the block starts on a 2 MiB boundary.
  void* raw = mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) out_of_memory(nbytes);
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > start) munmap(raw, aligned - start);
  if (const size_t tail = start + size + kHugePage - (aligned + size)) munmap(reinterpret_cast<void*>(aligned + size), tail);
  void* p = reinterpret_cast<void*>(aligned);
  madvise(p, size, MADV_HUGEPAGE);  // advice only: without THP the block is still valid memory
  return p;
}
#endif

// 64-byte aligned at least (one cache line, one AVX-512 vector). `nbytes` must be passed again,
// unchanged, to raw_free.
void* raw_allocate(size_t nbytes) {
#ifdef __linux__
  if (nbytes >= kHugeMin) return map_huge(nbytes);
#endif
  try {
    return ::operator new(nbytes, std::align_val_t{64});
  } catch (const std::bad_alloc&) {
    out_of_memory(nbytes);
  }
}
void raw_free(void* p, size_t nbytes) noexcept {
#ifdef __linux__
  if (nbytes >= kHugeMin) {
    munmap(p, huge_rounded(nbytes));
    return;
  }
#endif
  ::operator delete(p, std::align_val_t{64});
}

// The recycling policy of cpu_allocator() (see storage.h). Small blocks bypass it: glibc serves
// them from its heap without fresh pages, and they are too many to track under a lock.
class CpuAllocator final : public Allocator {
 public:
  static constexpr size_t kMinCached = size_t{256} << 10;
  static constexpr size_t kGranule = size_t{64} << 10;  // near-equal sizes share blocks
  static constexpr size_t kSlack = size_t{32} << 20;    // cached bytes allowed beyond live bytes

  CpuAllocator() {
    cap_ = static_cast<size_t>(env_integer("STYLENET_CPU_CACHE_MB", 1024, 0, int64_t{1} << 30,
                                           "a size in MB (an integer >= 0; 0 turns the cache off)")) << 20;
  }

  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    if (nbytes < kMinCached || cap_ == 0) return raw_allocate(nbytes);
    const size_t want = (nbytes + kGranule - 1) / kGranule * kGranule;
    std::vector<std::pair<void*, size_t>> evicted;  // blocks and their sizes
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Best fit, but never more than twice the request: a small long-lived tensor must not pin
      // a huge block (VGG's pooled maps, a quarter of the conv output, take a fresh block).
      auto it = free_.lower_bound(want);
      auto reuse = [&] {  // hands out the cached block at `it`
        const size_t cap = it->first;
        void* p = it->second;
        free_.erase(it);
        cached_ -= cap;
        live_[p] = cap;
        live_bytes_ += cap;
        ++hits_;
        return p;
      };
      if (it != free_.end() && it->first <= 2 * want) return reuse();
      // No block within 2x. If a fresh block would not fit under the high-water mark anyway (so
      // cached blocks would be freed to make room), reuse the smallest cached block up to 4x the
      // request instead: the same bound holds (live + cached does not change), and it saves
      // mapping fresh pages, which costs ~10 us per 4 KiB page on this kind of VM (measured: the
      // VGG16 forward faulted in 12.8 MB for conv1_2 in every other pass, +40 ms each time; now no
      // page faults after the second pass). Without the 4x cap the VGG16 training step's peak RSS
      // grew from 654 to 767 MB (big blocks held by small tensors raise the live high-water mark).
      if (it != free_.end() && it->first <= 4 * want && live_bytes_ + cached_ + want > peak_) return reuse();
      ++misses_;
      // Make room under the high-water mark, largest cached blocks first.
      while (!free_.empty() && live_bytes_ + cached_ + want > peak_) {
        auto last = std::prev(free_.end());
        cached_ -= last->first;
        evicted.emplace_back(last->second, last->first);
        free_.erase(last);
      }
    }
    for (const auto& [q, size] : evicted) raw_free(q, size);
    void* p = raw_allocate(want);
    std::lock_guard<std::mutex> lock(mu_);
    live_[p] = want;
    live_bytes_ += want;
    peak_ = std::max(peak_, live_bytes_);
    return p;
  }

  void deallocate(void* p, size_t nbytes) noexcept override {
    if (!p) return;
    if (nbytes < kMinCached || cap_ == 0) return raw_free(p, nbytes);
    std::vector<std::pair<void*, size_t>> evicted;  // blocks and their sizes
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = live_.find(p);
      if (it == live_.end()) {  // not ours to cache (cannot happen: every large block is in live_)
        evicted.emplace_back(p, (nbytes + kGranule - 1) / kGranule * kGranule);
      } else {
        const size_t cap = it->second;
        live_.erase(it);
        live_bytes_ -= cap;
        try {
          free_.emplace(cap, p);
          cached_ += cap;
        } catch (...) {  // no memory for the map node: just free the block
          evicted.emplace_back(p, cap);
        }
        // Shrink with the live memory, largest blocks first, so that after a big job (loading
        // the full VGG16, a training step) the memory goes back to the system instead of staying
        // at the high-water mark.
        const size_t limit = std::min(cap_, live_bytes_ + kSlack);
        while (cached_ > limit) {
          auto last = std::prev(free_.end());
          cached_ -= last->first;
          evicted.emplace_back(last->second, last->first);
          free_.erase(last);
        }
      }
    }
    for (const auto& [q, size] : evicted) raw_free(q, size);
  }

  void release() noexcept {
    std::multimap<size_t, void*> blocks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      blocks.swap(free_);
      cached_ = 0;
      peak_ = live_bytes_;  // a fresh start: the cache may refill only up to today's live memory
    }
    for (const auto& [cap, p] : blocks) raw_free(p, cap);
  }

  CpuCacheStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return {cached_, live_bytes_, peak_, hits_, misses_};
  }

 private:
  std::mutex mu_;
  std::multimap<size_t, void*> free_;      // cached blocks by size
  std::unordered_map<void*, size_t> live_;  // large blocks in use -> block size
  size_t cached_ = 0, live_bytes_ = 0, peak_ = 0, hits_ = 0, misses_ = 0;
  size_t cap_;  // STYLENET_CPU_CACHE_MB
};

// Never destroyed: tensors in other static objects may be freed after any destructor here ran.
CpuAllocator& the_cpu_allocator() {
  static CpuAllocator* a = new CpuAllocator;
  return *a;
}

}  // namespace

Allocator& cpu_allocator() { return the_cpu_allocator(); }
void* host_allocate(size_t nbytes) { return raw_allocate(nbytes); }
void host_free(void* p, size_t nbytes) noexcept { raw_free(p, nbytes); }

CpuCacheStats cpu_cache_stats() { return the_cpu_allocator().stats(); }
void release_cpu_cache() { the_cpu_allocator().release(); }

Allocator& allocator_for(Device device) {
  if (device.type == DeviceType::CUDA) return cuda::allocator(device.index);
  return cpu_allocator();
}

namespace {
std::atomic<uint64_t> next_storage_id{1};  // 0 means "no storage" to the weight cache
}

Storage::Storage(size_t nbytes, Device device)
    : data_(allocator_for(device).allocate(nbytes)), nbytes_(nbytes), device_(device),
      id_(next_storage_id.fetch_add(1, std::memory_order_relaxed)) {}

Storage::Storage(void* data, size_t nbytes, std::shared_ptr<const void> owner)
    : data_(data), nbytes_(nbytes), owner_(std::move(owner)),
      id_(next_storage_id.fetch_add(1, std::memory_order_relaxed)) {}

Storage::~Storage() {
  if (cached_.load(std::memory_order_relaxed)) cpu::forget_cached_weights(id_);
  if (!owner_) allocator_for(device_).deallocate(data_, nbytes_);
}

}  // namespace sn
