#include "tensor/cpu/isa.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include <unistd.h>

#include "tensor/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define SN_X86 1
#endif

namespace sn::cpu {

namespace {

#ifdef SN_X86
// XGETBV with ECX = 0 reads XCR0, the set of register states the OS saves and restores. Inline asm
// because the _xgetbv intrinsic needs -mxsave, which this baseline-compiled file must not assume.
uint64_t read_xcr0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool fma = ecx & (1u << 12), osxsave = ecx & (1u << 27), avx = ecx & (1u << 28);
  const bool ssse3_sse41 = (ecx & (1u << 9)) && (ecx & (1u << 19));
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  f.sha = ssse3_sse41 && (ebx & (1u << 29));  // SSE state only: no OS support to check
  if (!osxsave || !avx) return f;  // without OSXSAVE, XGETBV itself is unavailable
  const uint64_t xcr0 = read_xcr0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;     // SSE (bit 1) and AVX upper halves (bit 2)
  const bool os_zmm = (xcr0 & 0xe6) == 0xe6;   // plus opmask (5), ZMM0-15 upper (6), ZMM16-31 (7)
  const bool avx2 = ebx & (1u << 5);
  const bool f512 = ebx & (1u << 16), dq = ebx & (1u << 17), bw = ebx & (1u << 30),
             vl = ebx & (1u << 31);
  f.avx2_fma = avx2 && fma && os_ymm;
  // The AVX-512 kernels use VL/BW/DQ encodings too, so all four are required; every AVX-512 CPU
  // since Skylake-SP has them. FMA is implied by AVX-512F but we also require the AVX2 path.
  f.avx512 = f.avx2_fma && f512 && vl && bw && dq && os_zmm;
  return f;
}
#else
CpuFeatures detect() { return {}; }
#endif

}  // namespace

int64_t l2_cache_bytes() {
  static const int64_t bytes = [] {
    const long n = sysconf(_SC_LEVEL2_CACHE_SIZE);
    return n > 0 ? static_cast<int64_t>(n) : int64_t{1} << 20;
  }();
  return bytes;
}

namespace {

std::string available_list(const CpuFeatures& cpu) {
  std::string s = "ref";
  if (isa_supported(Isa::Avx2, cpu)) s += ", avx2";
  if (isa_supported(Isa::Avx512, cpu)) s += ", avx512";
  return s;
}

Isa best_of(const CpuFeatures& cpu) {
  return cpu.avx512 ? Isa::Avx512 : cpu.avx2_fma ? Isa::Avx2 : Isa::Ref;
}

// -1 until the first active_isa() reads STYLENET_ISA; afterwards an Isa value.
std::atomic<int> g_isa{-1};

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Ref: return "ref";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

Isa parse_isa(std::string_view name) {
  for (Isa isa : {Isa::Ref, Isa::Avx2, Isa::Avx512})
    if (name == isa_name(isa)) return isa;
  throw Error(detail::cat("unknown ISA '", name, "' (expected ref, avx2 or avx512)"));
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

bool isa_supported(Isa isa, const CpuFeatures& cpu) {
  switch (isa) {
    case Isa::Ref: return true;
    case Isa::Avx2: return cpu.avx2_fma;
    case Isa::Avx512: return cpu.avx512;
  }
  return false;
}
bool isa_supported(Isa isa) { return isa_supported(isa, cpu_features()); }
std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::Ref, Isa::Avx2, Isa::Avx512})
    if (isa_supported(isa)) out.push_back(isa);
  return out;
}

Isa best_isa() { return best_of(cpu_features()); }

Isa resolve_isa_request(std::string_view request, const CpuFeatures& cpu) {
  if (request.empty()) return best_of(cpu);
  Isa isa;
  try {
    isa = parse_isa(request);
  } catch (const Error& e) {
    throw Error(detail::cat("STYLENET_ISA: ", e.what()));
  }
  SN_CHECK(isa_supported(isa, cpu), "ISA '", request, "' is not available on this machine (CPU or OS ",
           "lacks it; available: ", available_list(cpu), ")");
  return isa;
}

Isa active_isa() {
  int v = g_isa.load(std::memory_order_relaxed);
  if (v < 0) {
    const char* env = std::getenv("STYLENET_ISA");
    const Isa isa = resolve_isa_request(env ? env : "", cpu_features());
    // A concurrent set_isa() wins over the environment default.
    int expected = -1;
    g_isa.compare_exchange_strong(expected, static_cast<int>(isa));
    v = g_isa.load(std::memory_order_relaxed);
  }
  return static_cast<Isa>(v);
}

void set_isa(Isa isa) {
  SN_CHECK(isa_supported(isa), "set_isa: ISA '", isa_name(isa), "' is not available on this machine ",
           "(available: ", available_list(cpu_features()), ")");
  g_isa.store(static_cast<int>(isa), std::memory_order_relaxed);
}

}  // namespace sn::cpu
