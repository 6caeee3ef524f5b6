// Comparing tensors in tests.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "tensor/tensor.h"

namespace sn::test {

// Largest |a - b| over all elements (shapes must match), computed in double.
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto x = a.contiguous().to_vector<float>(), y = b.contiguous().to_vector<float>();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(static_cast<double>(x[i]) - y[i]));
  return m;
}

}  // namespace sn::test
