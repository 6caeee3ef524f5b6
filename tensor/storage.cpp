#include "tensor/storage.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "tensor/cpu/weight_cache.h"
#include "tensor/cuda/cuda.h"
#include "tensor/env.h"
#include "tensor/host_memory.h"

namespace sn {

namespace {

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
    if (nbytes < kMinCached || cap_ == 0) return host_allocate(nbytes);
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
      // Make room under the high-water mark with cached blocks smaller than the request, largest
      // first. Larger ones are all over 4x the request here, and evicting one to make room for a
      // block that small only trades a later miss of its own size for this one: VGG16's forward
      // freed its 12.8 MB conv1 block to make room for a 1.6 MB pooled map, and faulted in a
      // fresh 12.8 MB in every pass. Where those do not make room, the mark rises instead, by at
      // most this request.
      while (live_bytes_ + cached_ + want > peak_ && !free_.empty() && free_.begin()->first < want)
        evict(std::prev(free_.lower_bound(want)), evicted);
      peak_ = std::max(peak_, live_bytes_ + cached_ + want);
    }
    for (const auto& [q, size] : evicted) host_free(q, size);
    void* p = host_allocate(want);
    std::lock_guard<std::mutex> lock(mu_);
    live_[p] = want;
    live_bytes_ += want;
    peak_ = std::max(peak_, live_bytes_);
    return p;
  }

  void deallocate(void* p, size_t nbytes) noexcept override {
    if (!p) return;
    if (nbytes < kMinCached || cap_ == 0) return host_free(p, nbytes);
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
        while (cached_ > limit) evict(std::prev(free_.end()), evicted);
      }
    }
    for (const auto& [q, size] : evicted) host_free(q, size);
  }

  void release() noexcept {
    Blocks blocks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      blocks.swap(free_);
      cached_ = 0;
      peak_ = live_bytes_;  // a fresh start: the cache may refill only up to today's live memory
    }
    for (const auto& [cap, p] : blocks) host_free(p, cap);
    host_memory_release();  // and the pages host_free keeps for reuse
  }

  CpuCacheStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return {cached_, live_bytes_, peak_, hits_, misses_};
  }

 private:
  using Blocks = std::multimap<size_t, void*>;  // block size -> block
  // Moves a cached block to `evicted`, to be freed once the lock is released.
  void evict(Blocks::iterator block, std::vector<std::pair<void*, size_t>>& evicted) {
    cached_ -= block->first;
    evicted.emplace_back(block->second, block->first);
    free_.erase(block);
  }

  std::mutex mu_;
  Blocks free_;      // cached blocks by size
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
