#include "tensor/cpu/parallel.h"
#include "tensor/cpu/tsan.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include "tensor/env.h"
#include "tensor/error.h"

namespace sn::cpu {

namespace {

constexpr int64_t kChunksPerThread = 4;

struct ArenaState {
  std::mutex mu;
  int threads = 0;  // 0 until first use
  std::shared_ptr<tbb::task_arena> arena;
  // TBB's worker pool defaults to the hardware concurrency; an arena asking for more slots than
  // that only gets them if the global limit is raised too.
  std::unique_ptr<tbb::global_control> limit;
};

ArenaState& state() {
  static ArenaState s;
  return s;
}

void configure(ArenaState& s, int n) {  // s.mu held
  s.threads = n;
  s.arena = std::make_shared<tbb::task_arena>(n);
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  s.limit = n > hw ? std::make_unique<tbb::global_control>(
                         tbb::global_control::max_allowed_parallelism, static_cast<size_t>(n))
                   : nullptr;
}

// The arena to run in, configured from STYLENET_THREADS on first use.
std::shared_ptr<tbb::task_arena> current_arena(int* threads) {
  ArenaState& s = state();
  std::lock_guard lock(s.mu);
  if (s.threads == 0) configure(s, default_num_threads());
  if (threads) *threads = s.threads;
  return s.arena;
}

}  // namespace

int default_num_threads() {
  const int64_t hardware = std::max(1u, std::thread::hardware_concurrency());
  return static_cast<int>(
      env_integer("STYLENET_THREADS", hardware, 1, 4096, "a thread count (an integer from 1 to 4096)"));
}

int num_threads() {
  int n = 0;
  current_arena(&n);
  return n;
}

void set_num_threads(int n) {
  SN_CHECK(n >= 1, "set_num_threads: need at least 1 thread, got ", n);
  ArenaState& s = state();
  std::lock_guard lock(s.mu);
  if (s.threads != n) configure(s, n);
}

namespace {
thread_local int serial_depth = 0;
}  // namespace

SerialRegion::SerialRegion() { ++serial_depth; }
SerialRegion::~SerialRegion() { --serial_depth; }

int threads_here() { return serial_depth > 0 ? 1 : num_threads(); }

ChunkPlan plan_chunks(int64_t begin, int64_t end, int64_t grain) {
  ChunkPlan p{begin, std::max(begin, end), 0};
  const int64_t n = p.end - p.begin;
  if (n == 0) return p;
  grain = std::max<int64_t>(grain, 1);
  const int64_t threads = threads_here();
  const int64_t by_grain = std::max<int64_t>(n / grain, 1);  // chunks at least `grain` long
  p.count = threads == 1 ? 1 : std::min(by_grain, threads * kChunksPerThread);
  return p;
}

namespace parallel_detail {

#ifdef SN_TSAN
// Under ThreadSanitizer the chunks run on plain std::threads, num_threads() of them taking chunks
// in turn: Debian's libtbb is not built with TSan, so TSan cannot see the synchronisation inside
// its scheduler and reports TBB's own bookkeeping as races. What the TSan build checks is our
// code (kernels, scratch memory, the loader, the allocator) under the same chunk plan.
void run_chunks(const ChunkPlan& plan, ChunkFn fn) {
  std::atomic<int64_t> next{0};
  std::mutex mu;
  std::exception_ptr error;
  auto worker = [&] {
    for (int64_t c; (c = next.fetch_add(1)) < plan.count;) {
      try {
        fn.call(fn.obj, c, plan.chunk_begin(c), plan.chunk_end(c));
      } catch (...) {
        std::lock_guard lock(mu);
        if (!error) error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> threads;
  for (int64_t t = 0; t < std::min<int64_t>(plan.count, num_threads()); ++t) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}
#else
void run_chunks(const ChunkPlan& plan, ChunkFn fn) {
  std::shared_ptr<tbb::task_arena> arena = current_arena(nullptr);
  // One task per chunk (simple_partitioner with grain 1): which worker runs a chunk is up to TBB,
  // but the chunk boundaries are fixed by the plan.
  arena->execute([&] {
    tbb::parallel_for(
        tbb::blocked_range<int64_t>(0, plan.count, 1),
        [&](const tbb::blocked_range<int64_t>& r) {
          for (int64_t c = r.begin(); c < r.end(); ++c)
            fn.call(fn.obj, c, plan.chunk_begin(c), plan.chunk_end(c));
        },
        tbb::simple_partitioner());
  });
}
#endif

}  // namespace parallel_detail

int arena_slot() {
#ifdef SN_TSAN
  return 0;  // chunks run on plain threads (run_chunks above)
#else
  return std::max(tbb::this_task_arena::current_thread_index(), 0);  // -1 outside an arena
#endif
}

}  // namespace sn::cpu

// The public face of the thread control (tensor/threads.h).
namespace sn {
int num_threads() { return cpu::num_threads(); }
void set_num_threads(int n) { cpu::set_num_threads(n); }
}  // namespace sn
