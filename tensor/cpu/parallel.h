// The one threading control of the library.
//
// Every parallel kernel runs through parallel_for, which executes inside a oneTBB task_arena of
// num_threads() slots. The thread count comes from STYLENET_THREADS (default: the hardware's) and
// can be changed with set_num_threads(); OpenBLAS, when selected as the GEMM backend, is told the
// same count.
//
// Determinism: parallel_for cuts [begin, end) into chunks whose boundaries depend only on
// (begin, end, grain, num_threads()), never on scheduling. A kernel that writes disjoint outputs per
// index, or reduces into one slot per chunk and combines the slots in chunk order, therefore gives
// bit-identical results run after run at a fixed thread count. Scratch memory belongs to a chunk (or
// to a tbb::enumerable_thread_specific), never to a "thread id", which TBB does not make stable.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

namespace sn::cpu {

int num_threads();
// n >= 1. Takes effect for the next parallel_for; do not call it while a parallel_for is running in
// another thread (the running one finishes on the old arena).
void set_num_threads(int n);
// The count STYLENET_THREADS asks for, else the number of hardware threads. Throws sn::Error on an
// invalid STYLENET_THREADS.
int default_num_threads();

// Inside a chunk that is already one thread's share of a larger loop (a tile block of a
// convolution), the kernels it calls run serially: while a SerialRegion lives on this thread,
// parallel_for makes one chunk and threads_here() is 1. Nestable; per thread.
class SerialRegion {
 public:
  SerialRegion();
  ~SerialRegion();
  SerialRegion(const SerialRegion&) = delete;
  SerialRegion& operator=(const SerialRegion&) = delete;
};
// num_threads(), or 1 inside a SerialRegion: the threads a kernel called here may use.
int threads_here();

// How parallel_for splits [begin, end): `count` chunks of near-equal size (the first `end-begin`
// mod count chunks one element longer). One chunk when num_threads() == 1 or the range is at most
// one grain; otherwise at most 4 chunks per thread, each at least `grain` long, so a core slowed by
// another process does not hold the others back.
struct ChunkPlan {
  int64_t begin = 0, end = 0, count = 0;
  int64_t chunk_begin(int64_t c) const {
    const int64_t n = end - begin, base = n / count, extra = n % count;
    return begin + c * base + (c < extra ? c : extra);
  }
  int64_t chunk_end(int64_t c) const { return chunk_begin(c + 1); }
};
ChunkPlan plan_chunks(int64_t begin, int64_t end, int64_t grain);

namespace parallel_detail {
// Type-erased callable reference, so this header needs no TBB include.
struct ChunkFn {
  void* obj;
  void (*call)(void*, int64_t chunk, int64_t b, int64_t e);
};
void run_chunks(const ChunkPlan& plan, ChunkFn fn);

// fn(chunk_index, chunk_begin, chunk_end) for each chunk of `plan`: on the caller's thread for a
// single chunk (no task overhead for serial work), else on the library's arena.
template <class F>
void run_plan(const ChunkPlan& plan, F&& fn) {
  if (plan.count == 0) return;
  if (plan.count == 1) {
    fn(int64_t{0}, plan.begin, plan.end);
    return;
  }
  using Fn = std::remove_reference_t<F>;
  run_chunks(plan, {const_cast<void*>(static_cast<const void*>(&fn)),
                    [](void* o, int64_t c, int64_t b, int64_t e) { (*static_cast<Fn*>(o))(c, b, e); }});
}
}  // namespace parallel_detail

// Calls fn(chunk_index, chunk_begin, chunk_end) once per chunk of plan_chunks(begin, end, grain),
// concurrently on the library's arena. Exceptions thrown by fn propagate to the caller.
template <class F>
void parallel_for_chunks(int64_t begin, int64_t end, int64_t grain, F&& fn) {
  parallel_detail::run_plan(plan_chunks(begin, end, grain), fn);
}

// Calls fn(chunk_begin, chunk_end) for each chunk; see parallel_for_chunks.
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, F&& fn) {
  parallel_for_chunks(begin, end, grain, [&fn](int64_t, int64_t b, int64_t e) { fn(b, e); });
}

// Calls fn(i) for each i in [begin, end), each index a task of its own (in order on the caller's
// thread when threads_here() is 1). For a few large, independent jobs (a convolution's tile
// blocks), where chunks of several would leave a core idle at the end while another finishes its
// last chunk.
template <class F>
void parallel_for_each_index(int64_t begin, int64_t end, F&& fn) {
  const int64_t n = std::max<int64_t>(end - begin, 0);
  parallel_detail::run_plan(ChunkPlan{begin, begin + n, threads_here() == 1 ? std::min<int64_t>(n, 1) : n},
                            [&fn](int64_t, int64_t b, int64_t e) {
                              for (int64_t i = b; i < e; ++i) fn(i);
                            });
}

// This thread's slot in the library's arena (0 .. num_threads() - 1; 0 outside it): stable for a
// thread while it works in the arena, unlike a TBB worker's identity across arenas. For placing
// work only (parallel_for_own_parts), never for indexing scratch.
int arena_slot();

namespace parallel_detail {
// The items of one part of parallel_for_own_parts, taken from the front by the part's owner and
// from the back by other threads: a take first claims one of the n items, so the two ends never
// meet.
struct PartItems {
  int64_t n = 0;
  std::atomic<int64_t> claimed{0}, front{0}, back{0};
  bool take(bool owner, int64_t* item) {
    if (claimed.fetch_add(1) >= n) return false;
    *item = owner ? front.fetch_add(1) : n - 1 - back.fetch_add(1);
    return true;
  }
};
}  // namespace parallel_detail

// Calls fn(p, i) once for each item i in [0, items(p)) of each part p in [0, parts), concurrently.
// The thread in arena slot s owns part s % parts and takes its items in order; a thread done with
// its own part takes the items left in the others from their ends (so a slower core does not hold
// the rest up). Loops that follow one another with the same parts thus run nearly all of part p on
// the same thread, so a part that reads what part p of the loop before wrote (a convolution's rows
// of its products, then its output channels from those rows) finds it in its own core's cache: on
// the README's VM the two cores share no cache, and a store to a line the other core holds runs at
// a tenth of the speed (docs/measuring.md). Which thread runs an item must not change the result:
// fn(p, i) writes only what item i of part p owns. With one thread (or inside a SerialRegion) the
// items run in order on the caller.
template <class Count, class F>
void parallel_for_own_parts(int64_t parts, Count&& items, F&& fn) {
  if (parts <= 0) return;
  if (parts == 1 || threads_here() == 1) {
    for (int64_t p = 0; p < parts; ++p)
      for (int64_t i = 0, n = items(p); i < n; ++i) fn(p, i);
    return;
  }
  std::vector<parallel_detail::PartItems> queue(static_cast<size_t>(parts));
  for (int64_t p = 0; p < parts; ++p) queue[static_cast<size_t>(p)].n = items(p);
  parallel_detail::run_plan(ChunkPlan{0, parts, parts}, [&](int64_t, int64_t, int64_t) {
    const int64_t own = arena_slot() % parts;
    for (int64_t k = 0; k < parts; ++k)
      for (int64_t p = (own + k) % parts, i; queue[static_cast<size_t>(p)].take(k == 0, &i);) fn(p, i);
  });
}

// Scoped thread count for tests and benchmarks.
class ThreadsScope {
 public:
  explicit ThreadsScope(int n) : saved_(num_threads()) { set_num_threads(n); }
  ~ThreadsScope() { set_num_threads(saved_); }
  ThreadsScope(const ThreadsScope&) = delete;
  ThreadsScope& operator=(const ThreadsScope&) = delete;

 private:
  int saved_;
};

}  // namespace sn::cpu
