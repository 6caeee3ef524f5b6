#include "tensor/host_memory.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <new>
#include <utility>

#include "tensor/error.h"

#ifdef __linux__
#include <sys/mman.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define SN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SN_ASAN 1
#endif
#endif

namespace sn {

namespace {

[[noreturn]] void out_of_memory(size_t nbytes) {
  throw Error(detail::cat("out of memory: could not allocate ", nbytes, " bytes"));
}

void* heap_allocate(size_t nbytes) {
  try {
    return ::operator new(nbytes, std::align_val_t{64});
  } catch (const std::bad_alloc&) {
    out_of_memory(nbytes);
  }
}
void heap_free(void* p) noexcept { ::operator delete(p, std::align_val_t{64}); }

size_t round_up(size_t n, size_t unit) { return (n + unit - 1) / unit * unit; }

#ifdef __linux__
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kHugeMin = 2 * kHugePage;   // blocks this large are their own mappings
constexpr size_t kSlabMin = size_t{64} << 10;   // blocks this large, and smaller than kHugeMin, use slabs
constexpr size_t kSlabBytes = 4 * kHugePage;  // at least two of the largest slab blocks
constexpr size_t kPage = size_t{4} << 10;
// Empty slabs kept mapped: a forward pass frees and re-takes its activations every call, and an
// unmapped slab faults in again.
constexpr size_t kEmptySlabsKept = 1;

void* map_huge(size_t nbytes) {
  const size_t size = round_up(nbytes, kHugePage);
  // Over-map by one huge page and trim, so the block starts on a 2 MiB boundary.
  void* raw = mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) out_of_memory(nbytes);
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = round_up(start, kHugePage);
  if (aligned > start) munmap(raw, aligned - start);
  if (const size_t tail = start + size + kHugePage - (aligned + size)) munmap(reinterpret_cast<void*>(aligned + size), tail);
  void* p = reinterpret_cast<void*>(aligned);
  madvise(p, size, MADV_HUGEPAGE);  // advice only: without THP the block is still valid memory
  return p;
}
void unmap_huge(void* p, size_t nbytes) noexcept { munmap(p, round_up(nbytes, kHugePage)); }

// Takes the ranges of `free` (start -> range, disjoint and not adjacent; len(range) its length)
// that touch [at, at + size) out of it, and returns the range they make with it.
template <class Ranges, class Len>
std::pair<typename Ranges::key_type, size_t> take_touching(Ranges& free, typename Ranges::key_type at, size_t size,
                                                           Len len) {
  auto next = free.lower_bound(at);
  if (next != free.end() && at + size == next->first) {
    size += len(next->second);
    next = free.erase(next);
  }
  if (next != free.begin()) {
    const auto prev = std::prev(next);
    if (prev->first + len(prev->second) == at) {
      at = prev->first, size += len(prev->second);
      free.erase(prev);
    }
  }
  return {at, size};
}

// Blocks of kHugeMin and more: a freed block's pages are kept for kKeepFreed and handed out again,
// whole or in part, to any later block that fits (the smallest free range that does; free ranges
// merge with their neighbours), so a job whose large blocks change size from phase to phase reuses
// pages instead of faulting in fresh ones. A tiled 1024 px stylize mapped 2.7 GB of fresh huge pages
// for a 720 MB peak: each tile's encoder maps were freed (unmapped) before its decoder ran, whose
// maps have other sizes, and the next tile faulted the encoder's in again. Ranges kept longer than
// kKeepFreed, or beyond kKeptMax bytes, are unmapped at the next allocation or free, so memory still
// goes back to the system after a job.
class HugeRanges {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kKeepFreed{2000};
  static constexpr size_t kKeptMax = size_t{1} << 30;

  void* allocate(size_t nbytes) {
    const size_t size = round_up(nbytes, kHugePage);
    {
      std::lock_guard lock(mu_);
      trim(Clock::now());
      auto best = free_.end();
      for (auto it = free_.begin(); it != free_.end(); ++it)
        if (it->second.size >= size && (best == free_.end() || it->second.size < best->second.size)) best = it;
      if (best != free_.end()) {
        const auto [at, kept] = *best;
        free_.erase(best);
        kept_ -= size;
        if (kept.size > size) free_.emplace(at + size, Kept{kept.size - size, kept.freed});
        return reinterpret_cast<void*>(at);
      }
    }
    // No kept range fits: a fresh mapping, into which the kept ranges' pages are moved (largest
    // first) before anything touches it, so only what they do not cover faults in. Kept pages
    // therefore never pile up on top of the job's own high-water mark.
    void* p = map_huge(size);
    std::lock_guard lock(mu_);
    adopt_kept(reinterpret_cast<uintptr_t>(p), size);
    return p;
  }

  void free(void* p, size_t nbytes) noexcept {
    std::lock_guard lock(mu_);
    const auto now = Clock::now();
    const size_t freed = round_up(nbytes, kHugePage);
    // Merged with the kept ranges it touches; the whole counts as freed now.
    const auto [at, size] =
        take_touching(free_, reinterpret_cast<uintptr_t>(p), freed, [](const Kept& k) { return k.size; });
    kept_ -= size - freed;
    try {
      free_.emplace(at, Kept{size, now});
      kept_ += size;
    } catch (...) {  // no memory for the map node: give the range back now
      munmap(reinterpret_cast<void*>(at), size);
    }
    trim(now);
  }

  size_t kept_bytes() {
    std::lock_guard lock(mu_);
    return kept_;
  }

  void release() noexcept {
    std::lock_guard lock(mu_);
    while (!free_.empty()) unmap(free_.begin());
  }

 private:
  struct Kept {
    size_t size;
    Clock::time_point freed;
  };
  using Ranges = std::map<uintptr_t, Kept>;  // by address; disjoint and not adjacent

  // Unmaps the ranges freed more than kKeepFreed ago, then the oldest while over kKeptMax.
  void trim(Clock::time_point now) noexcept {
    for (auto it = free_.begin(); it != free_.end();) {
      const auto range = it++;
      if (now - range->second.freed > kKeepFreed) unmap(range);
    }
    while (kept_ > kKeptMax) unmap(oldest());
  }
  Ranges::iterator oldest() {
    auto best = free_.begin();
    for (auto it = free_.begin(); it != free_.end(); ++it)
      if (it->second.freed < best->second.freed) best = it;
    return best;
  }
  // Fills [dst, dst + size), a fresh mapping not yet touched, from the start with kept ranges'
  // pages (the largest ranges first, a range's tail where only part is needed), moved by mremap:
  // their page tables move, nothing faults in or is zeroed. A tiled 1024 px stylize faulted in
  // 1.2 GB of huge pages for a 700 MB peak, most of them where a block fitted no single kept range
  // although together they held enough (each 2 MiB page zeroed by the kernel, ~0.7 ms here).
  void adopt_kept(uintptr_t dst, size_t size) noexcept {
    for (size_t done = 0; done < size && !free_.empty();) {
      auto range = free_.begin();
      for (auto it = free_.begin(); it != free_.end(); ++it)
        if (it->second.size > range->second.size) range = it;
      const size_t take = range->second.size < size - done ? range->second.size : size - done;
      void* src = reinterpret_cast<void*>(range->first + range->second.size - take);
      void* to = reinterpret_cast<void*>(dst + done);
      if (mremap(src, take, take, MREMAP_MAYMOVE | MREMAP_FIXED, to) == MAP_FAILED) {
        // The destination stays fresh memory (mapped again in case the failed call unmapped it).
        mmap(to, size - done, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        madvise(to, size - done, MADV_HUGEPAGE);
        return;
      }
      kept_ -= take;
      done += take;
      if (take == range->second.size) free_.erase(range);
      else range->second.size -= take;
    }
  }
  // Gives a kept range back to the system; returns its size.
  size_t unmap(Ranges::iterator range) noexcept {
    const size_t size = range->second.size;
    munmap(reinterpret_cast<void*>(range->first), size);
    kept_ -= size;
    free_.erase(range);
    return size;
  }

  std::mutex mu_;
  Ranges free_;
  size_t kept_ = 0;
};

HugeRanges& huge_ranges() {
  static HugeRanges* r = new HugeRanges;  // never destroyed, as slab_arena()
  return *r;
}

// Blocks of kSlabMin..kHugeMin from huge-page slabs (see host_memory.h): first fit over the
// slabs' free ranges, which merge with their neighbours when blocks are freed. A freed block keeps
// its pages, as glibc's heap would: cpu_allocator() frees a block when its cache holds more than
// the live high-water mark allows, and the block that replaces it, usually of a similar size,
// then lands on pages already faulted in instead of faulting in fresh ones.
class SlabArena {
 public:
  void* allocate(size_t nbytes) {
    const size_t size = round_up(nbytes, kPage);
    std::lock_guard lock(mu_);
    for (auto& [base, slab] : slabs_)
      for (auto range = slab.free.begin(); range != slab.free.end(); ++range)
        if (range->second >= size) return carve(base, slab, range, size);
    const auto base = reinterpret_cast<uintptr_t>(map_huge(kSlabBytes));
    Slab& slab = slabs_[base];
    slab.free.emplace(0, kSlabBytes);
    ++empty_slabs_;
    return carve(base, slab, slab.free.begin(), size);
  }

  void free(void* p, size_t nbytes) noexcept {
    std::lock_guard lock(mu_);
    const auto it = std::prev(slabs_.upper_bound(reinterpret_cast<uintptr_t>(p)));
    Slab& slab = it->second;
    give_back(slab.free, reinterpret_cast<uintptr_t>(p) - it->first, round_up(nbytes, kPage));
    --blocks_;
    if (--slab.live > 0) return;
    if (empty_slabs_ < kEmptySlabsKept) {
      ++empty_slabs_;  // kept for the next blocks, its pages faulted in already
      return;
    }
    unmap_huge(reinterpret_cast<void*>(it->first), kSlabBytes);
    slabs_.erase(it);
  }

  HostMemoryStats stats() {
    std::lock_guard lock(mu_);
    return {slabs_.size(), blocks_};
  }

 private:
  using Ranges = std::map<size_t, size_t>;  // offset -> length, disjoint and not adjacent
  struct Slab {
    Ranges free;
    size_t live = 0;  // blocks carved from it and not yet freed
  };

  void* carve(uintptr_t base, Slab& slab, Ranges::iterator range, size_t size) {
    const auto [offset, length] = *range;
    slab.free.erase(range);
    if (length > size) slab.free.emplace(offset + size, length - size);
    if (slab.live++ == 0) --empty_slabs_;
    ++blocks_;
    return reinterpret_cast<void*>(base + offset);
  }

  // Returns [offset, offset + size) to `free`, merged with the ranges it touches.
  static void give_back(Ranges& free, size_t offset, size_t size) {
    const auto [start, length] = take_touching(free, offset, size, [](size_t l) { return l; });
    free.emplace(start, length);
  }

  std::mutex mu_;
  std::map<uintptr_t, Slab> slabs_;  // by base address
  size_t blocks_ = 0, empty_slabs_ = 0;
};

SlabArena& slab_arena() {
  static SlabArena* a = new SlabArena;  // never destroyed: static tensors may be freed after exit
  return *a;
}

#ifdef SN_ASAN
constexpr bool kUseSlabs = false;  // keep these blocks on the heap, where ASan checks bounds
#else
constexpr bool kUseSlabs = true;
#endif

bool in_slab(size_t nbytes) { return kUseSlabs && nbytes >= kSlabMin && nbytes < kHugeMin; }
#endif

}  // namespace

void* host_allocate(size_t nbytes) {
#ifdef __linux__
  if (nbytes >= kHugeMin) return huge_ranges().allocate(nbytes);
  if (in_slab(nbytes)) return slab_arena().allocate(nbytes);
#endif
  return heap_allocate(nbytes);
}

void host_free(void* p, size_t nbytes) noexcept {
#ifdef __linux__
  if (nbytes >= kHugeMin) return huge_ranges().free(p, nbytes);
  if (in_slab(nbytes)) return slab_arena().free(p, nbytes);
#endif
  heap_free(p);
}

HostMemoryStats host_memory_stats() {
  HostMemoryStats s;
#ifdef __linux__
  if (kUseSlabs) s = slab_arena().stats();
  s.kept_bytes = huge_ranges().kept_bytes();
#endif
  return s;
}

void host_memory_release() noexcept {
#ifdef __linux__
  huge_ranges().release();
#endif
}

bool host_memory_has_slabs() {
#ifdef __linux__
  return kUseSlabs;
#else
  return false;
#endif
}

}  // namespace sn
