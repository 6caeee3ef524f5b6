// Run-time instruction-set dispatch.
//
// The library is compiled for baseline x86-64; only the per-ISA kernel files get -mavx2/-mavx512*
// (see tensor/CMakeLists.txt). At run time we pick the widest ISA that both the CPU (CPUID) and the
// OS (XCR0: it saves the YMM/ZMM state on context switches) support. STYLENET_ISA=ref|avx2|avx512
// or set_isa() force a narrower path, so tests can exercise every path on one machine; asking for an
// ISA the machine lacks is an error, never a silent fallback.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

namespace sn::cpu {

// Ordered from narrowest to widest.
enum class Isa { Ref, Avx2, Avx512 };

const char* isa_name(Isa isa);          // "ref", "avx2", "avx512"
Isa parse_isa(std::string_view name);   // inverse of isa_name; throws sn::Error on other names

// What CPUID and XGETBV say about this machine.
struct CpuFeatures {
  bool avx2_fma = false;  // AVX2 + FMA3, and the OS saves YMM state
  bool avx512 = false;    // AVX-512 F+VL+BW+DQ, and the OS saves ZMM and opmask state
  bool sha = false;       // the SHA extensions with SSSE3 and SSE4.1 (weights/sha256.cpp)
};
const CpuFeatures& cpu_features();  // detected once

// Bytes of one core's L2 cache (the OS's figure, read once), or 1 MiB where the OS does not say:
// the SGEMM sizes its B block from it (gemm_loop.cpp).
int64_t l2_cache_bytes();

bool isa_supported(Isa isa, const CpuFeatures& cpu);
bool isa_supported(Isa isa);  // on this machine
Isa best_isa();               // the widest supported ISA on this machine
std::vector<Isa> supported_isas();  // every ISA this machine runs, narrowest (ref) first

// The ISA every dispatching kernel uses now: STYLENET_ISA if set (checked on first use), else
// best_isa(), until set_isa() changes it. Throws sn::Error if STYLENET_ISA is invalid or unavailable.
Isa active_isa();
// Forces an ISA for the whole library; throws sn::Error (and changes nothing) if it is unavailable.
void set_isa(Isa isa);

// The ISA a STYLENET_ISA value asks for, checked against `cpu`; an empty request means "best".
// Throws sn::Error naming the request and what the machine has. Exposed so tests can check the
// refusal path with a pretend CPU.
Isa resolve_isa_request(std::string_view request, const CpuFeatures& cpu);

// Scoped override for tests and benchmarks: forces `isa`, restores the previous one on exit.
class IsaScope {
 public:
  explicit IsaScope(Isa isa) : saved_(active_isa()) { set_isa(isa); }
  ~IsaScope() { set_isa(saved_); }
  IsaScope(const IsaScope&) = delete;
  IsaScope& operator=(const IsaScope&) = delete;

 private:
  Isa saved_;
};

}  // namespace sn::cpu
