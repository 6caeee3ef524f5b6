// Element offsets of N strided operands walked in lock-step over one shape: the GPU kernels'
// for_each_strided. The arithmetic is __host__ __device__ so that the CPU tests check it against
// for_each_strided (tests/test_cuda_indexing.cpp) on machines without a GPU.
#pragma once
#include <array>
#include <cstdint>

#include "tensor/error.h"
#include "tensor/shape.h"

#if defined(__CUDACC__)
#define SN_HD __host__ __device__
#else
#define SN_HD
#endif

namespace sn::cuda {

inline constexpr int kMaxDims = 10;

template <int N>
struct Indexer {
  int nd = 0;
  int64_t size[kMaxDims] = {};
  int64_t stride[N][kMaxDims] = {};

  // offsets[k] = the element offset, in operand k, of the element with row-major index `linear`.
  SN_HD void offsets(int64_t linear, int64_t* off) const {
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = nd - 1; d >= 0; --d) {
      const int64_t i = linear % size[d];
      linear /= size[d];
      for (int k = 0; k < N; ++k) off[k] += i * stride[k][d];
    }
  }
};

// Builds the indexer, dropping size-1 dims and merging neighbours that are contiguous in every
// operand (fewer divisions per element). strides[k] must already be broadcast to `shape`.
template <int N>
Indexer<N> make_indexer(const Shape& shape, const std::array<Shape, N>& strides) {
  Indexer<N> ix;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    const int last = ix.nd - 1;
    bool merge = last >= 0;
    for (int k = 0; merge && k < N; ++k) merge = ix.stride[k][last] == strides[k][d] * shape[d];
    if (merge) {
      ix.size[last] *= shape[d];
      for (int k = 0; k < N; ++k) ix.stride[k][last] = strides[k][d];
      continue;
    }
    SN_CHECK(ix.nd < kMaxDims, "cuda: tensors of more than ", kMaxDims,
             " non-mergeable dims are not supported (shape ", shape_str(shape), ")");
    ix.size[ix.nd] = shape[d];
    for (int k = 0; k < N; ++k) ix.stride[k][ix.nd] = strides[k][d];
    ++ix.nd;
  }
  return ix;
}

}  // namespace sn::cuda
