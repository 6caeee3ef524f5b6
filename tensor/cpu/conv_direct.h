// Direct convolutions for few output or few input channels: see conv_direct_impl.h. Internal to
// tensor/cpu.
#pragma once
#include <cstdint>

#include "tensor/cpu/conv.h"

namespace sn::cpu::direct_detail {

constexpr int64_t kMaxOut = 4;  // few outputs: at most this many output channels (and no padding)
constexpr int64_t kMaxIn = 4;   // few inputs: at most this many input channels
constexpr int64_t kBandRows = 8;  // few inputs: output rows per band of copied input rows

// y rows [oh0, oh1) of image n (every output channel); requires direct_applies(s).
using ForwardRows = void (*)(const ConvShape& s, const float* x, const float* w, const float* bias, bool relu,
                             int64_t n, int64_t oh0, int64_t oh1, float* y);
struct DirectKernels {
  ForwardRows few_outputs, few_inputs;
};
const DirectKernels& direct_avx2();
const DirectKernels& direct_avx512();

}  // namespace sn::cpu::direct_detail
