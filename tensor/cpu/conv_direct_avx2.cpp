// Direct convolution (conv_direct_impl.h) compiled for AVX2; see tensor/CMakeLists.txt for
// this file's flags. Called only when active_isa() is AVX2.
#include "tensor/cpu/conv_direct_impl.h"

namespace sn::cpu::direct_detail {
const DirectKernels& direct_avx2() {
  static const DirectKernels kernels{few_outputs, few_inputs};
  return kernels;
}
}  // namespace sn::cpu::direct_detail
