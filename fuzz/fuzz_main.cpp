// One libFuzzer executable per target: built once for each name in fuzz/CMakeLists.txt, with
// SN_FUZZ_TARGET naming it.
#include <cstddef>
#include <cstdint>

#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const sn::fuzz::Target& t = sn::fuzz::target(SN_FUZZ_TARGET);
  sn::fuzz::run_guarded(t, std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
