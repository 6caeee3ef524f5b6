// Walking N strided operands in lock-step over one shape: the loop every reference kernel uses.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "tensor/shape.h"

namespace sn {

// Calls f(offsets) once per element of `shape` in row-major order, where offsets[k] is the element
// offset of that element in operand k (whose strides are strides[k], already broadcast to `shape`).
// The innermost dimension is a tight loop; the outer ones advance like an odometer.
template <size_t N, class F>
void for_each_strided(const Shape& shape, const std::array<Shape, N>& strides,
                      std::array<int64_t, N> base, F&& f) {
  const int64_t nd = static_cast<int64_t>(shape.size());
  if (numel(shape) == 0) return;
  if (nd == 0) {
    f(base);
    return;
  }
  const int64_t inner = shape[nd - 1];
  std::array<int64_t, N> inner_stride;
  for (size_t k = 0; k < N; ++k) inner_stride[k] = strides[k][nd - 1];
  std::vector<int64_t> idx(nd, 0);
  std::array<int64_t, N> off = base;
  while (true) {
    std::array<int64_t, N> o = off;
    for (int64_t i = 0; i < inner; ++i) {
      f(o);
      for (size_t k = 0; k < N; ++k) o[k] += inner_stride[k];
    }
    int64_t d = nd - 2;  // carry into the outer dims
    for (; d >= 0; --d) {
      if (++idx[d] < shape[d]) {
        for (size_t k = 0; k < N; ++k) off[k] += strides[k][d];
        break;
      }
      for (size_t k = 0; k < N; ++k) off[k] -= strides[k][d] * (shape[d] - 1);
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

// The element offset of each row (every index of all dims but the last, in row-major order) of
// `shape` in an operand with `strides` (broadcast to `shape`): how the fast kernels walk a strided
// view whose innermost dim is contiguous (a window of a map) row by row.
inline std::vector<int64_t> row_offsets(const Shape& shape, const Shape& strides) {
  if (shape.empty()) return {0};
  const Shape outer(shape.begin(), shape.end() - 1), outer_strides(strides.begin(), strides.end() - 1);
  std::vector<int64_t> rows;
  rows.reserve(static_cast<size_t>(numel(outer)));
  for_each_strided<1>(outer, {outer_strides}, {0}, [&](const std::array<int64_t, 1>& o) { rows.push_back(o[0]); });
  return rows;
}

// Strides of a tensor with (shape, strides) seen through broadcasting to `out_shape`:
// missing leading dims and size-1 dims get stride 0.
inline Shape broadcast_strides(const Shape& shape, const Shape& strides, const Shape& out_shape) {
  Shape s(out_shape.size(), 0);
  const size_t lead = out_shape.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i) s[lead + i] = shape[i] == 1 ? 0 : strides[i];
  return s;
}

}  // namespace sn
