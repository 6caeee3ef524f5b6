// The main() of the Google Benchmark suites that register their benchmarks at run time: records
// the active ISA in the output's context, registers, runs.
#pragma once
#include <benchmark/benchmark.h>

#include "tensor/cpu/isa.h"

namespace sn::bench {

inline int run_registered_benchmarks(int argc, char** argv, void (*register_all)()) {
  benchmark::Initialize(&argc, argv);
  benchmark::AddCustomContext("isa", sn::cpu::isa_name(sn::cpu::active_isa()));
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace sn::bench
