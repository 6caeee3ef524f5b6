// `stylenet`: one binary, several subcommands. Errors end as one line on stderr and a non-zero
// exit: 2 for bad usage, 1 for anything that went wrong while running.
#include <malloc.h>

#include <cstdio>
#include <cstring>
#include <exception>

#include "apps/args.h"
#include "apps/command.h"
#include "tensor/cpu/parallel.h"
#include "tensor/cpu/weight_cache.h"
#include "tensor/cuda/cuda.h"
#include "tensor/storage.h"
#include "vision/image.h"

namespace {

// The settings read from the environment, checked before any work so that a bad one is the
// run's only message (not an error after the encoder announced itself).
void check_environment() {
  sn::cpu::default_num_threads();
  sn::max_image_pixels();
  sn::cpu_cache_stats();  // builds the allocator, which reads STYLENET_CPU_CACHE_MB
  sn::cpu::weight_cache_budget();
}

// glibc serves blocks above its mmap threshold (128 KiB, rising only as such blocks are freed)
// with fresh mappings and returns them to the system on free, so every large temporary (GEMM
// packing, Winograd scratch, image buffers) faults its pages in again, at ~10 us per 4 KiB page
// on this kind of VM. One command is one short process: keep freed memory in the heap for
// reuse. (The library does not do this: an embedding program owns its malloc settings.)
// Measured: `stylize` of a 64 x 64 photo with a 64 px style, 16.2k -> 13-14k page faults,
// 0.29-0.30 -> 0.26 s (3 runs each, with GLIBC_TUNABLES set to the same values).
void keep_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest allowed value on 64-bit
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

void print_help() {
  std::printf("usage: stylenet <command> [options]\n\ncommands:\n");
  for (const auto& c : sn::cli::commands()) std::printf("  %-14s %s\n", c.name, c.summary);
  std::printf("\n'stylenet <command> --help' shows a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "help") || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    print_help();
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version") || !std::strcmp(argv[1], "version")) {
    std::printf("stylenet %s\n", STYLENET_VERSION);
    // Which devices `--device` can name here, and if none but the CPU, why.
    const int gpus = sn::cuda::device_count();
    if (gpus == 0) std::printf("cuda: none (%s)\n", sn::cuda::device_problem().c_str());
    for (int i = 0; i < gpus; ++i) std::printf("cuda:%d: %s\n", i, sn::cuda::device_name(i).c_str());
    return 0;
  }
  for (const auto& c : sn::cli::commands()) {
    if (std::strcmp(argv[1], c.name) != 0) continue;
    std::vector<std::string> args(argv + 2, argv + argc);
    for (const auto& a : args)
      if (a == "--help" || a == "-h") {
        std::printf("%s", c.usage.c_str());
        return 0;
      }
    try {
      keep_freed_memory();
      check_environment();
      return c.run(args);
    } catch (const sn::cli::UsageError& e) {
      std::fprintf(stderr, "stylenet %s: %s (see 'stylenet %s --help')\n", c.name, e.what(), c.name);
      return 2;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "stylenet %s: error: %s\n", c.name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "stylenet: unknown command '%s' (see 'stylenet help')\n", argv[1]);
  return 2;
}
