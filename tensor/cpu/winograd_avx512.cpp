// Winograd F(4x4, 3x3) and F(6x6, 3x3) transforms (winograd_impl.h) compiled for AVX512; see tensor/CMakeLists.txt
// for this file's flags. Called only when active_isa() is AVX512.
#include "tensor/cpu/winograd_impl.h"

namespace sn::cpu::winograd_detail {
const WinogradKernels& winograd_avx512(int m) { return m == 6 ? kKernels6 : kKernels4; }
}  // namespace sn::cpu::winograd_detail
