// The fuzz targets: each parser of outside data as the product calls it, fed raw bytes. The one
// outcome a hostile input may have besides success is an sn::Error (one clear message); anything
// else — another exception, a crash, a sanitizer report, a leak, a timeout — is a finding.
//
// libFuzzer runs them (fuzz_main.cpp, one executable per target: scripts/fuzz.sh), and so does
// the test suite, on every input a fuzzer ever found a bug with (fuzz/regressions/<target>/).
#pragma once
#include <string_view>
#include <vector>

namespace sn::fuzz {

struct Target {
  const char* name;                  // "pth", "zip", ... (fuzz/regressions/<name>, fuzz/dict/<name>.dict)
  void (*run)(std::string_view bytes);  // may throw sn::Error, nothing else
};

const std::vector<Target>& targets();
const Target& target(std::string_view name);

// run(bytes), with sn::Error caught: what a harness does with each input.
void run_guarded(const Target& target, std::string_view bytes);

}  // namespace sn::fuzz
