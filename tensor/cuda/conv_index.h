// The index arithmetic of the GPU convolution: im2col's read and col2im written as a gather. It is
// __host__ __device__ so that tests/test_cuda_indexing.cpp checks it against the CPU reference
// convolution on machines without a GPU.
//
// For one image and one group: col[r][j], r = (c * KH + kh) * KW + kw over the group's C input
// channels and the taps, j = oh * OW + ow, holds x[c][oh * sh - ph + kh * dh][ow * sw - pw + kw * dw]
// (0 in the padding). Then y = W col, grad_col = W^T grad_y, grad_x = col2im(grad_col).
#pragma once
#include <cstdint>

#include "tensor/cuda/indexer.h"

namespace sn::cuda {

struct ConvIndex {
  int64_t C, H, W;      // the group's input channels and the input size
  int64_t KH, KW, OH, OW;
  int64_t sh, sw, ph, pw, dh, dw;

  SN_HD int64_t rows() const { return C * KH * KW; }
  SN_HD int64_t cols() const { return OH * OW; }

  // The offset in the [C, H, W] input of col[r][j], or -1 where it reads padding.
  SN_HD int64_t source(int64_t r, int64_t j) const {
    const int64_t kw = r % KW, kh = (r / KW) % KH, c = r / (KW * KH);
    const int64_t ih = (j / OW) * sh - ph + kh * dh, iw = (j % OW) * sw - pw + kw * dw;
    if (ih < 0 || ih >= H || iw < 0 || iw >= W) return -1;
    return (c * H + ih) * W + iw;
  }

  // grad_x[c][ih][iw]: the sum of the col entries that read it, taps in row-major order.
  template <class T>
  SN_HD double gather(int64_t c, int64_t ih, int64_t iw, const T* grad_col) const {
    double sum = 0.0;
    for (int64_t kh = 0; kh < KH; ++kh) {
      const int64_t oh_scaled = ih + ph - kh * dh;  // oh * sh when this tap of output row oh reads row ih
      if (oh_scaled < 0 || oh_scaled % sh != 0 || oh_scaled / sh >= OH) continue;
      for (int64_t kw = 0; kw < KW; ++kw) {
        const int64_t ow_scaled = iw + pw - kw * dw;
        if (ow_scaled < 0 || ow_scaled % sw != 0 || ow_scaled / sw >= OW) continue;
        const int64_t r = (c * KH + kh) * KW + kw, j = (oh_scaled / sh) * OW + ow_scaled / sw;
        sum += static_cast<double>(grad_col[r * OH * OW + j]);
      }
    }
    return sum;
  }
};

}  // namespace sn::cuda
