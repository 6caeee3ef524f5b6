// Host memory and its recycling (tensor/host_memory.h, tensor/storage.h): where blocks come
// from, that they do not overlap, that freed memory is reused rather than faulted in again, and
// that the cache stays under its bounds; the kernels' scratch pool (tensor/cpu/workspace.h).
#include <doctest/doctest.h>

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "tensor/cpu/workspace.h"
#include "tensor/host_memory.h"
#include "tensor/storage.h"
#include "tensor/tensor.h"

using namespace sn;

namespace {

long minor_faults() {
  struct rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

struct Block {
  unsigned char* p;
  size_t n;
};

constexpr size_t MiB = size_t{1} << 20;

// Whether freed blocks of 4 MiB and more keep their pages here (Linux), starting with none kept;
// elsewhere they are plain heap memory and the test is skipped.
bool kept_ranges_here() {
#ifdef __linux__
  host_memory_release();
  return true;
#else
  MESSAGE("skipped: large blocks are plain heap memory off Linux");
  return false;
#endif
}

}  // namespace

TEST_CASE("host memory: blocks of 64 KiB to 4 MiB do not overlap, and all are handed back") {
  const HostMemoryStats s0 = host_memory_stats();
  std::vector<Block> blocks;
  // Odd sizes around the slab bounds, each filled end to end with its own byte.
  for (int round = 0; round < 3; ++round)
    for (size_t n : {size_t{64} << 10, (size_t{100} << 10) + 3, size_t{256} << 10, (size_t{300} << 10) + 13,
                     size_t{1} << 20, (size_t{3} << 20) + 5, (size_t{4} << 20) - 64, size_t{700} << 10}) {
      auto* p = static_cast<unsigned char*>(host_allocate(n));
      CHECK(reinterpret_cast<uintptr_t>(p) % 64 == 0);
      std::memset(p, static_cast<int>(blocks.size() + 1), n);
      blocks.push_back({p, n});
    }
  if (host_memory_has_slabs()) CHECK(host_memory_stats().slab_blocks == s0.slab_blocks + blocks.size());
  for (size_t i = 0; i < blocks.size(); ++i) {
    const auto want = static_cast<unsigned char>(i + 1);
    size_t wrong = 0;
    for (size_t j = 0; j < blocks[i].n; ++j) wrong += blocks[i].p[j] != want;
    CHECK_MESSAGE(wrong == 0, "block ", i, " was overwritten by another");
  }
  for (const Block& b : blocks) host_free(b.p, b.n);
  CHECK(host_memory_stats().slab_blocks == s0.slab_blocks);
  CHECK(host_memory_stats().slabs <= s0.slabs + 4);  // empty slabs beyond the few kept are unmapped
}

TEST_CASE("host memory: a freed slab range is reused, merged with its free neighbours, without new faults") {
  if (!host_memory_has_slabs()) {
    MESSAGE("skipped: no slabs in this build (not Linux, or AddressSanitizer)");
    return;
  }
  // Fill slabs with 1 MiB blocks, free them all: the ranges merge, so a 3.5 MiB block then fits
  // in a slab already mapped.
  std::vector<void*> blocks;
  for (int i = 0; i < 16; ++i) blocks.push_back(host_allocate(size_t{1} << 20));
  for (void* p : blocks) host_free(p, size_t{1} << 20);
  const size_t slabs = host_memory_stats().slabs;
  void* big = host_allocate(size_t{7} << 19);
  CHECK(host_memory_stats().slabs == slabs);
  host_free(big, size_t{7} << 19);
  // Taking and touching a block again and again faults its pages in once.
  auto cycle = [] {
    auto* p = static_cast<unsigned char*>(host_allocate(size_t{1} << 20));
    std::memset(p, 1, size_t{1} << 20);
    host_free(p, size_t{1} << 20);
  };
  cycle();
  const long before = minor_faults();
  for (int i = 0; i < 100; ++i) cycle();
  CHECK(minor_faults() - before < 10);  // a fresh 1 MiB each time would be 100 faults or more
}

TEST_CASE("host memory: a freed block of 4 MiB or more keeps its pages for any later block that fits") {
  if (!kept_ranges_here()) return;
  auto* big = static_cast<unsigned char*>(host_allocate(16 * MiB));
  std::memset(big, 7, 16 * MiB);
  host_free(big, 16 * MiB);
  CHECK(host_memory_stats().kept_bytes == 16 * MiB);
  // Two smaller blocks are carved from its range, on its faulted-in pages (THP or not: a fresh
  // 4 MiB of 4 KiB pages would be a thousand faults, of huge pages at least two).
  const long before = minor_faults();
  auto* a = static_cast<unsigned char*>(host_allocate(6 * MiB - 100));
  auto* b = static_cast<unsigned char*>(host_allocate(4 * MiB));
  std::memset(a, 1, 6 * MiB - 100);
  std::memset(b, 2, 4 * MiB);
  CHECK(minor_faults() - before < 2);
  CHECK(a == big);
  CHECK(b == big + 6 * MiB);  // 2 MiB granules: the first block took 6 MiB
  CHECK(host_memory_stats().kept_bytes == 6 * MiB);
  CHECK(a[6 * MiB - 101] == 1);
  // Freed, the pieces merge with each other and with the rest: the whole range serves 16 MiB again.
  host_free(b, 4 * MiB);
  host_free(a, 6 * MiB - 100);
  CHECK(host_memory_stats().kept_bytes == 16 * MiB);
  auto* again = static_cast<unsigned char*>(host_allocate(16 * MiB));
  CHECK(again == big);
  CHECK(host_memory_stats().kept_bytes == 0);
  // A block no kept range fits maps fresh pages and gives back as many kept ones.
  host_free(again, 16 * MiB);
  auto* larger = static_cast<unsigned char*>(host_allocate(24 * MiB));
  CHECK(host_memory_stats().kept_bytes == 0);
  std::memset(larger, 3, 24 * MiB);
  host_free(larger, 24 * MiB);
  CHECK(host_memory_stats().kept_bytes == 24 * MiB);
  host_memory_release();
  CHECK(host_memory_stats().kept_bytes == 0);
}

TEST_CASE("host memory: a block no kept range fits takes the kept pages it can, moved, not faulted in") {
  if (!kept_ranges_here()) return;
  auto* big = static_cast<unsigned char*>(host_allocate(16 * MiB));
  std::memset(big, 7, 16 * MiB);
  host_free(big, 16 * MiB);
  auto* head = static_cast<unsigned char*>(host_allocate(6 * MiB));  // leaves 10 MiB kept
  REQUIRE(head == big);
  REQUIRE(host_memory_stats().kept_bytes == 10 * MiB);
  // 14 MiB fits no kept range: its first 10 MiB are the kept pages (still holding the 7s written
  // above, so moved rather than fresh), the rest fresh; nothing stays kept.
  auto* block = static_cast<unsigned char*>(host_allocate(14 * MiB));
  CHECK(host_memory_stats().kept_bytes == 0);
  const long before = minor_faults();
  size_t sevens = 0;
  for (size_t i = 0; i < 10 * MiB; i += 4096) sevens += block[i] == 7;
  CHECK(minor_faults() - before < 2);
  CHECK(sevens == 10 * MiB / 4096);
  CHECK(block[14 * MiB - 1] == 0);
  std::memset(block, 3, 14 * MiB);
  host_free(block, 14 * MiB);
  host_free(head, 6 * MiB);
  host_memory_release();
  CHECK(host_memory_stats().kept_bytes == 0);
}

TEST_CASE("host memory: kept pages go back to the system 2 s after their block was freed") {
  if (!kept_ranges_here()) return;
  host_free(host_allocate(8 * MiB), 8 * MiB);
  CHECK(host_memory_stats().kept_bytes == 8 * MiB);
  void* small = host_allocate(4 * MiB);  // within the 2 s: carved from the kept range
  host_free(small, 4 * MiB);
  CHECK(host_memory_stats().kept_bytes == 8 * MiB);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  // The next allocation or free gives back what was freed more than 2 s ago, then maps its own.
  void* other = host_allocate(4 * MiB);
  CHECK(host_memory_stats().kept_bytes == 0);
  host_free(other, 4 * MiB);
  CHECK(host_memory_stats().kept_bytes == 4 * MiB);
  release_cpu_cache();  // which releases the kept pages too
  CHECK(host_memory_stats().kept_bytes == 0);
}

TEST_CASE("cpu allocator: blocks of 4 MiB and more are whole mappings on 2 MiB boundaries (huge pages)") {
  // Odd sizes, filled end to end, freed to the cache and released (unmapped with the size they
  // were mapped with) several times: a wrong length would unmap a neighbour and fault here.
  for (int round = 0; round < 3; ++round) {
    std::vector<Tensor> blocks;
    for (int64_t floats : {(int64_t{1} << 20) + 7, (int64_t{3} << 20) + 1, (int64_t{5} << 19) + 13}) {
      Tensor t = Tensor::full({floats}, round + 1.0);
#ifdef __linux__
      CHECK(reinterpret_cast<uintptr_t>(t.data<float>()) % (uintptr_t{2} << 20) == 0);
#endif
      CHECK(t.data<float>()[floats - 1] == float(round + 1));
      blocks.push_back(t);
    }
    double sum = 0;
    for (const Tensor& t : blocks)
      for (float v : t.to_vector<float>()) sum += v;
    CHECK(sum == doctest::Approx((round + 1.0) * ((1 << 20) + 7 + (3 << 20) + 1 + (5 << 19) + 13)));
    blocks.clear();
    if (round == 1) release_cpu_cache();
  }
  release_cpu_cache();
}

TEST_CASE("cpu allocator: freed large blocks are reused, cached + live stays under the live high-water mark") {
  release_cpu_cache();
  const CpuCacheStats s0 = cpu_cache_stats();
  const void* first = nullptr;
  {
    const Tensor a = Tensor::empty({int64_t{1} << 20});  // 4 MiB
    first = a.data<float>();
  }
  CHECK(cpu_cache_stats().cached_bytes >= (size_t{4} << 20));
  {
    const Tensor b = Tensor::empty({int64_t{1} << 20});
    CHECK(b.data<float>() == first);  // the freed block, no fresh pages
    CHECK(cpu_cache_stats().hits == s0.hits + 1);
    const Tensor c = Tensor::empty({int64_t{1} << 17});  // 512 KiB: nothing cached fits, a miss
    CHECK(cpu_cache_stats().hits == s0.hits + 1);
    const CpuCacheStats s = cpu_cache_stats();
    CHECK(s.cached_bytes + s.live_bytes <= s.peak_bytes);
  }
  const CpuCacheStats s = cpu_cache_stats();
  CHECK(s.cached_bytes + s.live_bytes <= s.peak_bytes);
  release_cpu_cache();
  CHECK(cpu_cache_stats().cached_bytes == 0);
}

TEST_CASE("cpu allocator: a miss does not free a cached block over 4x its size, so a repeated sequence settles") {
  // VGG16's forward in miniature: weights stay in use; two big maps, the first freed, then a
  // small one while the second is in use. Freeing the cached big block to make room for the small
  // one would fault in a fresh big block on every pass.
  release_cpu_cache();
  const int64_t big = int64_t{4} << 20, small = int64_t{1} << 18;  // 16 MiB, 1 MiB
  const Tensor weights = Tensor::empty({big});
  const size_t misses = cpu_cache_stats().misses;
  for (int pass = 0; pass < 4; ++pass) {
    Tensor a = Tensor::empty({big});
    const Tensor b = Tensor::empty({big});
    a = Tensor();
    const Tensor c = Tensor::empty({small});
    const CpuCacheStats s = cpu_cache_stats();
    CHECK(s.cached_bytes + s.live_bytes <= s.peak_bytes);
  }
  CHECK(cpu_cache_stats().misses - misses == 3);  // the first pass's three blocks, none after
  release_cpu_cache();
}

// The scratch pool: leases held together are distinct; a lease given back is handed out again
// (the pool does not grow); a thread gets back the buffer it gave back itself when that is at most
// twice its request (its lines are likely in this core's cache), and the best fit otherwise.
TEST_CASE("workspace pool: distinct while held, reused after, a thread's own buffer preferred") {
  cpu::release_workspaces();
  const size_t floats = 1 << 16;
  float* by_thread[2] = {};
  {
    // Both threads hold a lease at once (so two buffers), then give it back.
    std::atomic<int> holding{0};
    auto take = [&](int t) {
      cpu::WorkspaceLease lease(floats);
      by_thread[t] = lease.data();
      holding.fetch_add(1);
      while (holding.load() < 2) std::this_thread::yield();
    };
    std::thread a(take, 0), b(take, 1);
    a.join();
    b.join();
  }
  REQUIRE(by_thread[0] != by_thread[1]);
  const size_t pooled = cpu::workspace_bytes();
  CHECK(pooled >= 2 * floats * sizeof(float));
  // Each of two new threads gives back one of the two buffers; each then gets its own back.
  for (int round = 0; round < 3; ++round) {
    float* got[2] = {};
    std::thread a([&] { got[0] = cpu::WorkspaceLease(floats).data(); });
    a.join();
    std::thread b([&] {
      cpu::WorkspaceLease first(floats), second(floats);  // the two buffers, b gives back both
      got[1] = second.data();
    });
    b.join();
    CHECK(cpu::workspace_bytes() == pooled);  // nothing new
    (void)got;
  }
  std::thread t([&] {
    float *mine = nullptr, *other = nullptr;
    {
      cpu::WorkspaceLease x(floats);
      mine = x.data();
    }
    other = cpu::WorkspaceLease(floats).data();
    CHECK(other == mine);  // its own, although the other buffer fits as well
    // A request under half of its own buffers takes the best fit instead: another thread's small one.
    float* small = nullptr;
    {
      cpu::WorkspaceLease x(floats), y(floats);  // both large buffers held: the small one is new
      std::thread([&] { small = cpu::WorkspaceLease(floats / 4).data(); }).join();
    }
    CHECK(cpu::WorkspaceLease(floats / 4).data() == small);
  });
  t.join();
  {
    cpu::WorkspaceLease a(floats), b(floats);  // two held together: two buffers
    CHECK(a.data() != b.data());
  }
  cpu::release_workspaces();
  CHECK(cpu::workspace_bytes() == 0);
}
