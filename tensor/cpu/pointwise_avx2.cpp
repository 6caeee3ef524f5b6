// The pointwise inner loops (pointwise_impl.h) compiled for AVX2; see tensor/CMakeLists.txt for
// this file's flags. Called only when active_isa() is AVX2.
#include "tensor/cpu/pointwise_impl.h"

namespace sn::cpu::pointwise_detail {
const PointwiseTable& avx2_table() { return kTable; }
}  // namespace sn::cpu::pointwise_detail
