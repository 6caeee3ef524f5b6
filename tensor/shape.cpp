#include "tensor/shape.h"

#include <limits>

namespace sn {

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t numel(const Shape& shape) {
  // Shapes can come from files: a product past 2^63 must be an error, not undefined behaviour. As
  // in NumPy, the other sizes must multiply within range even when one is 0 (strides are products
  // of them), and then the count is 0.
  int64_t n = 1;
  bool empty = false;
  for (int64_t s : shape) {
    if (s == 0) empty = true;
    else SN_CHECK(!__builtin_mul_overflow(n, s, &n), "shape ", shape_str(shape), " has more elements than an int64 counts");
  }
  return empty ? 0 : n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t st = 1;
  for (int64_t i = static_cast<int64_t>(shape.size()) - 1; i >= 0; --i) {
    strides[i] = st;
    st *= shape[i] > 0 ? shape[i] : 1;
  }
  return strides;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    SN_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
             " cannot be broadcast together (dim ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int64_t normalize_dim(int64_t dim, int64_t ndim, const char* op) {
  const int64_t lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  SN_CHECK(dim >= lo && dim <= hi, op, ": dim ", dim, " is out of range for a tensor with ", ndim,
           " dims (expected ", lo, " to ", hi, ")");
  return dim < 0 ? dim + (ndim == 0 ? 1 : ndim) : dim;
}

void check_shape(const Shape& shape, const char* op) {
  int64_t n = 1;
  for (int64_t s : shape) {
    SN_CHECK(s >= 0, op, ": negative size in shape ", shape_str(shape));
    SN_CHECK(s == 0 || n <= std::numeric_limits<int64_t>::max() / 8 / s, op, ": shape ",
             shape_str(shape), " is too large");
    n *= s;
  }
}

}  // namespace sn
