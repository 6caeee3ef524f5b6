// Direct convolutions for few output or few input channels (conv_direct_impl.h): the driver.
#include <algorithm>

#include "tensor/cpu/conv_direct.h"
#include "tensor/cpu/isa.h"
#include "tensor/cpu/parallel.h"

namespace sn::cpu {

namespace {

bool plain(const ConvShape& s) { return s.groups == 1 && s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1; }
bool few_outputs(const ConvShape& s) { return plain(s) && s.O <= direct_detail::kMaxOut && s.ph == 0 && s.pw == 0; }

}  // namespace

bool direct_applies(const ConvShape& s) { return few_outputs(s) || (plain(s) && s.C <= direct_detail::kMaxIn); }

void conv2d_forward_direct(const ConvShape& s, const float* x, const float* w, const float* bias, float* y,
                           bool relu) {
  const direct_detail::DirectKernels& k =
      active_isa() == Isa::Avx512 ? direct_detail::direct_avx512() : direct_detail::direct_avx2();
  const direct_detail::ForwardRows rows = few_outputs(s) ? k.few_outputs : k.few_inputs;
  // Chunks of whole output rows over the batch; each writes only its rows. Few inputs copies a
  // band of KH - 1 extra input rows per chunk: chunks of at least a band of output rows.
  const int64_t work_per_row = std::max<int64_t>(1, s.OW * s.C * s.KH * s.KW * s.O);
  const int64_t min_rows = few_outputs(s) ? 1 : direct_detail::kBandRows;
  const int64_t grain = std::max<int64_t>(min_rows, (int64_t{1} << 16) / work_per_row);
  parallel_for(0, s.N * s.OH, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1;) {
      const int64_t n = r / s.OH, oh0 = r % s.OH, oh1 = std::min(s.OH, oh0 + (r1 - r));
      rows(s, x, w, bias, relu, n, oh0, oh1, y);
      r += oh1 - oh0;
    }
  });
}

}  // namespace sn::cpu
