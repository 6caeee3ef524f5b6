// Direct convolution for few output channels: see conv_direct_impl.h. Internal to tensor/cpu.
#pragma once
#include <cstdint>

#include "tensor/cpu/conv.h"

namespace sn::cpu::direct_detail {

constexpr int64_t kMaxOut = 4;

// y rows [oh0, oh1) of image n (every output channel); requires direct_applies(s).
using ForwardRows = void (*)(const ConvShape& s, const float* x, const float* w, const float* bias, bool relu,
                             int64_t n, int64_t oh0, int64_t oh1, float* y);
ForwardRows direct_avx2();
ForwardRows direct_avx512();

}  // namespace sn::cpu::direct_detail
