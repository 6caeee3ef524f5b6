// <immintrin.h> for the per-ISA kernels (AVX-512 or AVX2, by the including file's flags), and the
// prefetches they ask for by hand.
//
// GCC 12's AVX-512 intrinsics pass an undefined vector (a self-initialised variable) to their
// masked builtins, which -Wmaybe-uninitialized reports wherever the inlining around them changes
// (GCC bug 105593, mended in GCC 13). The warning is silenced for the intrinsics' own lines, where
// those reports are located, and nowhere else. (Clang has no such warning, and warns about the
// name.)
#pragma once
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace sn::cpu {
namespace {

// One cache line into L1, as an asm statement: GCC (12, -O2 and up) judged a function whose only
// effect is __builtin_prefetch free of side effects and deleted every call to it, so the Winograd
// prefetch_rows written with it compiled to nothing (from a37065d until it was found in the
// disassembly; the gain measured for that commit was code placement, not prefetching).
inline void prefetch_l1(const void* p) { asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p))); }
// The same for a line about to be written (prefetchw: fetched ready to be modified; GCC emits no
// prefetchw for the builtins without -mprfchw either).
inline void prefetch_for_write(const void* p) { asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(p))); }

}  // namespace
}  // namespace sn::cpu
