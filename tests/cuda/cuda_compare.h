// What the CUDA tests share: the GPU, inputs drawn on the CPU (so both devices see the same
// numbers), a poisoned allocator cache, and comparisons with a stated tolerance.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tensor/cuda/cuda.h"
#include "tensor/tensor.h"

namespace sn::cuda_test {

inline const Device kGpu{DeviceType::CUDA, 0};

// Fills freed blocks of the GPU allocator with NaN: a kernel that leaves part of its output
// unwritten then shows NaN instead of passing on stale zeros. Each size is allocated, filled and
// dropped, so the next request of that size gets the poisoned block back.
inline void poison_cache(const std::vector<Shape>& shapes, DType dtype) {
  std::vector<Tensor> held;
  for (const Shape& s : shapes) held.push_back(Tensor::full(s, std::nan(""), dtype, kGpu));
  for (int64_t n : {int64_t(1), int64_t(64), int64_t(1) << 12, int64_t(1) << 16})
    held.push_back(Tensor::full({n}, std::nan(""), dtype, kGpu));
}

// |got - want| <= tol * max(1, max |want|) elementwise, with NaN matching NaN. Prints the first
// few offenders.
inline void check_close(const Tensor& got_any, const Tensor& want_any, double tol, const std::string& what) {
  REQUIRE_MESSAGE(got_any.defined() == want_any.defined(), what);
  if (!want_any.defined()) return;
  REQUIRE_MESSAGE(got_any.shape() == want_any.shape(), what, ": shape ", shape_str(got_any.shape()), " vs ",
                  shape_str(want_any.shape()));
  const std::vector<double> got = got_any.to_vector<double>(), want = want_any.to_vector<double>();
  double scale = 1.0;
  for (double w : want)
    if (std::isfinite(w)) scale = std::max(scale, std::abs(w));
  int64_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const bool both_nan = std::isnan(got[i]) && std::isnan(want[i]);
    if (both_nan || got[i] == want[i] || std::abs(got[i] - want[i]) <= tol * scale) continue;
    if (bad++ < 3) FAIL_CHECK(what, ": element ", i, " = ", got[i], " on the GPU, ", want[i], " on the CPU");
  }
  CHECK_MESSAGE(bad == 0, what, ": ", bad, " of ", got.size(), " elements differ beyond ", tol, " x ", scale);
}

}  // namespace sn::cuda_test
