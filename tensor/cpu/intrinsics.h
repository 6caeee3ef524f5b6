// <immintrin.h> for the per-ISA kernels (AVX-512 or AVX2, by the including file's flags).
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
