// Correctly rounded arithmetic that the compiler may not fuse. nvcc contracts a * b + c into one
// fma by default (--fmad=true), which rounds once instead of twice; the CPU reference kernels are
// built without FMA, so kernels that must give the reference's bits (optimizer steps, the final
// multiply-adds of resize and instance norm) spell each rounding out with these. On the host they
// are the plain operators, so CPU tests can call the same functions.
#pragma once
#include <cmath>

#include "tensor/cuda/indexer.h"  // SN_HD

namespace sn::cuda::exact {

#if defined(__CUDA_ARCH__)
SN_HD inline float add(float a, float b) { return __fadd_rn(a, b); }
SN_HD inline float mul(float a, float b) { return __fmul_rn(a, b); }
SN_HD inline float div(float a, float b) { return __fdiv_rn(a, b); }
SN_HD inline float sqrt(float a) { return __fsqrt_rn(a); }
SN_HD inline double add(double a, double b) { return __dadd_rn(a, b); }
SN_HD inline double mul(double a, double b) { return __dmul_rn(a, b); }
SN_HD inline double div(double a, double b) { return __ddiv_rn(a, b); }
SN_HD inline double sqrt(double a) { return __dsqrt_rn(a); }
#else
SN_HD inline float add(float a, float b) { return a + b; }
SN_HD inline float mul(float a, float b) { return a * b; }
SN_HD inline float div(float a, float b) { return a / b; }
SN_HD inline float sqrt(float a) { return std::sqrt(a); }
SN_HD inline double add(double a, double b) { return a + b; }
SN_HD inline double mul(double a, double b) { return a * b; }
SN_HD inline double div(double a, double b) { return a / b; }
SN_HD inline double sqrt(double a) { return std::sqrt(a); }
#endif
template <class T>
SN_HD inline T sub(T a, T b) { return add(a, -b); }

}  // namespace sn::cuda::exact
