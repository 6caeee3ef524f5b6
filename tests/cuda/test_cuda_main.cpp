// The `cuda` test suite's entry point. Without a usable GPU (no CUDA in this build, no driver, no
// device) it prints why and exits 77, which ctest reports as skipped: never as passed.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "tensor/cuda/cuda.h"

int main(int argc, char** argv) {
  if (sn::cuda::device_count() == 0) {
    std::printf("skipped: %s\n", sn::cuda::device_problem().c_str());
    return 77;
  }
  std::printf("running on cuda:0 (%s)\n", sn::cuda::device_name(0).c_str());
  doctest::Context context(argc, argv);
  return context.run();
}
