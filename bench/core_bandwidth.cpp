// How fast each core reads memory, and data another core has just written; how fast a core
// writes lines another core has just read.
//
//   stylenet_core_bandwidth [MB ...]      (default: 3 16 64; Linux, at least 2 CPUs)
//
// For each size: a thread pinned to CPU w writes the buffer, then a thread pinned to CPU r reads
// it, for every (w, r) of CPUs 0 and 1; median GB/s of 15 reads. Then a thread pinned to CPU r
// reads it and one pinned to CPU w writes it, with plain stores and with non-temporal ones (past
// the cache); median GB/s of 15 writes. On the 2-core VM of the README (2026-12-05) a buffer that
// fits L3 read at ~70 GB/s on the core that wrote it and at ~32-36 on the other, the speed of
// memory: the cores share no cache, so a thread reading what the other wrote pays memory's price
// (README, "Fast CPU kernels", the 21:30 session). And 3 MB that one core had read took plain
// stores at 57-58 GB/s on that core and at 8-9 GB/s on the other (each line waits while the other
// core's copy is dropped), non-temporal stores at 24-34 GB/s on either: why the Winograd
// convolution writes what both threads read past the cache, and keeps each thread on its own part
// (README, the 23:40 session).
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

// Runs fn on a thread pinned to `cpu` and waits for it.
template <class F>
void on_cpu(int cpu, F&& fn) {
  std::thread t([&] {
    pin(cpu);
    fn();
  });
  t.join();
}

// Eight independent sums, so the loop is bound by the loads, not by one addition chain.
uint64_t read_all(const uint64_t* p, size_t n) {
  uint64_t s[8] = {};
  for (size_t i = 0; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) s[j] += p[i + j];
  uint64_t total = 0;
  for (uint64_t v : s) total += v;
  return total;
}

// Writes every line of the buffer, with plain stores or (nt) non-temporal ones that bypass the
// cache (SSE2's, 16 bytes at a time: every x86-64 has them; elsewhere plain stores only).
void write_all(uint64_t* p, size_t n, uint64_t v, bool nt) {
#if defined(__x86_64__)
  if (nt) {
    const __m128i x = _mm_set1_epi64x(static_cast<long long>(v));
    for (size_t i = 0; i + 2 <= n; i += 2) _mm_stream_si128(reinterpret_cast<__m128i*>(p + i), x);
    _mm_sfence();
    return;
  }
#endif
  (void)nt;
  std::fill(p, p + n, v);
}

// GB/s of moving `bytes` in the median of `seconds`.
double median_gbps(size_t bytes, std::vector<double> seconds) {
  std::sort(seconds.begin(), seconds.end());
  return static_cast<double>(bytes) / seconds[seconds.size() / 2] * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  if (std::thread::hardware_concurrency() < 2) {
    std::fprintf(stderr, "stylenet_core_bandwidth: needs at least 2 CPUs\n");
    return 1;
  }
  std::vector<size_t> sizes_mb;
  for (int i = 1; i < argc; ++i) {
    const long mb = std::atol(argv[i]);
    if (mb < 1 || mb > 4096) {
      std::fprintf(stderr, "stylenet_core_bandwidth: '%s' is not a size in MB from 1 to 4096\n", argv[i]);
      return 2;
    }
    sizes_mb.push_back(static_cast<size_t>(mb));
  }
  if (sizes_mb.empty()) sizes_mb = {3, 16, 64};
  volatile uint64_t sink = 0;  // keeps the reads
  for (size_t mb : sizes_mb) {
    const size_t n = (mb << 20) / sizeof(uint64_t);
    std::vector<uint64_t> buf(n);
    for (int writer : {0, 1})
      for (int reader : {0, 1}) {
        std::vector<double> seconds;
        for (int rep = 0; rep < 15; ++rep) {
          on_cpu(writer, [&] { std::fill(buf.begin(), buf.end(), static_cast<uint64_t>(rep)); });
          on_cpu(reader, [&] {
            const double t0 = now();
            sink = sink + read_all(buf.data(), n);
            seconds.push_back(now() - t0);
          });
        }
        std::printf("%4zu MB written on CPU %d, read on CPU %d: %5.1f GB/s\n", mb, writer, reader,
                    median_gbps(n * sizeof(uint64_t), seconds));
      }
    for (bool nt : {false, true})
      for (int reader : {0, 1})
        for (int writer : {0, 1}) {
          std::vector<double> seconds;
          for (int rep = 0; rep < 15; ++rep) {
            on_cpu(reader, [&] { sink = sink + read_all(buf.data(), n); });
            on_cpu(writer, [&] {
              const double t0 = now();
              write_all(buf.data(), n, static_cast<uint64_t>(rep), nt);
              seconds.push_back(now() - t0);
            });
          }
          std::printf("%4zu MB read on CPU %d, written on CPU %d (%s stores): %5.1f GB/s\n", mb, reader, writer,
                      nt ? "non-temporal" : "plain", median_gbps(n * sizeof(uint64_t), seconds));
        }
  }
  return 0;
}
