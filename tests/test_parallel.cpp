// parallel_for: coverage of every index exactly once, chunk plans, determinism of per-chunk
// reductions, the thread-count control and its environment variable, exceptions, nesting, serial
// regions.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/cpu/parallel.h"
#include "tensor/error.h"
#include "tests/env_scope.h"

using namespace sn;
using namespace sn::cpu;

TEST_CASE("parallel_for: every index exactly once, for any range, grain and thread count") {
  for (int threads : {1, 2, 3, 8}) {
    ThreadsScope ts(threads);
    CHECK(num_threads() == threads);
    for (int64_t n : {0, 1, 2, 7, 64, 1000, 4097})
      for (int64_t grain : {1, 3, 100, 5000}) {
        const int64_t begin = 5, end = begin + n;
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        parallel_for(begin, end, grain, [&](int64_t b, int64_t e) {
          REQUIRE(begin <= b);
          REQUIRE(b < e);
          REQUIRE(e <= end);
          for (int64_t i = b; i < e; ++i) hits[i - begin].fetch_add(1);
        });
        for (int64_t i = 0; i < n; ++i) REQUIRE(hits[i].load() == 1);
      }
  }
}

TEST_CASE("parallel_for_each_index: every index exactly once, each its own call; serial inside a region") {
  for (int threads : {1, 2, 3}) {
    ThreadsScope ts(threads);
    for (int64_t n : {0, 1, 2, 7, 23, 100}) {
      const int64_t begin = 3;
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      parallel_for_each_index(begin, begin + n, [&](int64_t i) {
        REQUIRE(begin <= i);
        REQUIRE(i < begin + n);
        hits[i - begin].fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i) REQUIRE(hits[i].load() == 1);
    }
  }
  ThreadsScope ts(2);
  CHECK_THROWS_WITH_AS(parallel_for_each_index(0, 10, [](int64_t i) {
                         if (i == 7) throw std::runtime_error("index failed");
                       }),
                       "index failed", std::runtime_error);
  SerialRegion serial;  // one thread: the indices in order on the caller's thread
  std::vector<int64_t> order;
  parallel_for_each_index(0, 5, [&](int64_t i) { order.push_back(i); });
  CHECK(order == std::vector<int64_t>{0, 1, 2, 3, 4});
}

TEST_CASE("parallel_for_own_parts: every item of every part exactly once, any thread count; in order when serial") {
  for (int threads : {1, 2, 3, 8}) {
    ThreadsScope ts(threads);
    for (int64_t parts : {0, 1, 2, 3, 5}) {
      CAPTURE(threads);
      CAPTURE(parts);
      // Part p has 3 p + 1 items (one part of one item, others of many: a thread done with its own
      // takes the rest of the others').
      const auto items = [](int64_t p) { return 3 * p + 1; };
      std::vector<std::vector<std::atomic<int>>> hits;
      for (int64_t p = 0; p < parts; ++p) hits.emplace_back(static_cast<size_t>(items(p)));
      parallel_for_own_parts(parts, items, [&](int64_t p, int64_t i) {
        REQUIRE(p >= 0);
        REQUIRE(p < parts);
        REQUIRE(i >= 0);
        REQUIRE(i < items(p));
        REQUIRE(arena_slot() >= 0);
        REQUIRE(arena_slot() < threads);
        hits[static_cast<size_t>(p)][static_cast<size_t>(i)].fetch_add(1);
      });
      for (int64_t p = 0; p < parts; ++p)
        for (int64_t i = 0; i < items(p); ++i)
          REQUIRE(hits[static_cast<size_t>(p)][static_cast<size_t>(i)].load() == 1);
    }
  }
  ThreadsScope ts(2);
  const auto two = [](int64_t) { return int64_t{2}; };
  CHECK_THROWS_WITH_AS(parallel_for_own_parts(2, two,
                                              [](int64_t p, int64_t i) {
                                                if (p == 1 && i == 1) throw std::runtime_error("item failed");
                                              }),
                       "item failed", std::runtime_error);
  SerialRegion serial;
  std::vector<int64_t> order;
  parallel_for_own_parts(3, two, [&](int64_t p, int64_t i) { order.push_back(10 * p + i); });
  CHECK(order == std::vector<int64_t>{0, 1, 10, 11, 20, 21});
}

TEST_CASE("plan_chunks: contiguous, balanced, at least a grain, bounded count") {
  for (int threads : {1, 2, 4}) {
    ThreadsScope ts(threads);
    for (int64_t n : {1, 5, 100, 12345})
      for (int64_t grain : {1, 7, 1000}) {
        const ChunkPlan p = plan_chunks(10, 10 + n, grain);
        CAPTURE(threads);
        CAPTURE(n);
        CAPTURE(grain);
        REQUIRE(p.count >= 1);
        CHECK(p.count <= 4 * threads);
        if (threads == 1) CHECK(p.count == 1);
        CHECK(p.chunk_begin(0) == 10);
        CHECK(p.chunk_end(p.count - 1) == 10 + n);
        for (int64_t c = 0; c < p.count; ++c) {
          const int64_t len = p.chunk_end(c) - p.chunk_begin(c);
          if (p.count > 1) CHECK(len >= grain);
          CHECK(len >= n / p.count);
          CHECK(len <= n / p.count + 1);
        }
      }
  }
  CHECK(plan_chunks(3, 3, 1).count == 0);
  CHECK(plan_chunks(3, 1, 1).count == 0);
}

TEST_CASE("parallel_for_chunks: per-chunk partial sums are deterministic at a fixed thread count") {
  // Float addition is not associative: a reduction is reproducible only if its grouping is. The
  // grouping here is the chunk plan, fixed by (range, grain, threads).
  std::vector<float> x(100003);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 1.0f / float(1 + (i * 7919) % 1000);
  for (int threads : {1, 2, 4}) {
    ThreadsScope ts(threads);
    auto sum = [&] {
      const ChunkPlan plan = plan_chunks(0, int64_t(x.size()), 1000);
      std::vector<float> partial(plan.count, 0.0f);
      parallel_for_chunks(0, int64_t(x.size()), 1000, [&](int64_t c, int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) partial[c] += x[i];
      });
      float total = 0.0f;
      for (float p : partial) total += p;
      return total;
    };
    const float first = sum();
    for (int rep = 0; rep < 20; ++rep) CHECK(sum() == first);
  }
}

TEST_CASE("threads: set_num_threads, scopes, STYLENET_THREADS") {
  const int before = num_threads();
  {
    ThreadsScope ts(3);
    CHECK(num_threads() == 3);
    {
      ThreadsScope inner(1);
      CHECK(num_threads() == 1);
    }
    CHECK(num_threads() == 3);
  }
  CHECK(num_threads() == before);
  CHECK_THROWS_AS(set_num_threads(0), Error);
  CHECK(num_threads() == before);

  const test::EnvScope threads("STYLENET_THREADS", "3");
  CHECK(default_num_threads() == 3);
  for (const char* bad : {"0", "-2", "two", "2x"}) {
    threads.set(bad);
    CHECK_THROWS_WITH_AS(default_num_threads(), doctest::Contains("STYLENET_THREADS"), Error);
  }
}

TEST_CASE("parallel_for: exceptions reach the caller; nested loops work") {
  ThreadsScope ts(2);
  CHECK_THROWS_WITH_AS(parallel_for(0, 100, 1,
                                    [](int64_t b, int64_t) {
                                      if (b > 0) throw std::runtime_error("chunk failed");
                                    }),
                       "chunk failed", std::runtime_error);
  std::atomic<int64_t> total{0};
  parallel_for(0, 8, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      parallel_for(0, 100, 10, [&](int64_t b2, int64_t e2) { total += e2 - b2; });
  });
  CHECK(total.load() == 800);
}

TEST_CASE("SerialRegion: one chunk and one thread inside, nestable, per thread") {
  ThreadsScope ts(2);
  REQUIRE(plan_chunks(0, 1000, 1).count > 1);
  CHECK(threads_here() == 2);
  {
    SerialRegion outer;
    CHECK(threads_here() == 1);
    CHECK(plan_chunks(0, 1000, 1).count == 1);
    {
      SerialRegion inner;
      CHECK(threads_here() == 1);
    }
    CHECK(threads_here() == 1);  // still inside the outer region
    int64_t covered = 0;
    parallel_for(0, 1000, 1, [&](int64_t b, int64_t e) { covered += e - b; });  // serial: no race
    CHECK(covered == 1000);
  }
  CHECK(threads_here() == 2);
  // Regions opened in chunks on the workers end with them: the caller's count is untouched.
  std::atomic<int64_t> serial_inside{0};
  parallel_for(0, 8, 1, [&](int64_t b, int64_t e) {
    SerialRegion serial;
    for (int64_t i = b; i < e; ++i) serial_inside += threads_here() == 1;
  });
  CHECK(serial_inside.load() == 8);
  CHECK(plan_chunks(0, 1000, 1).count > 1);
}
