// Differentiable reductions. Backward broadcasts the output gradient back over the reduced dims.
#include "autograd/ops.h"
#include "autograd/record.h"
#include "tensor/kernels/core.h"
#include "tensor/strided_loop.h"

namespace sn {

namespace {
using kernels::Binary;
using kernels::Reduce;
using kernels::Unary;

// Which dims of an n-dim tensor a reduction over `dims` touches (all when empty).
std::vector<bool> reduced_mask(const std::vector<int64_t>& dims, int64_t nd, const char* op) {
  std::vector<bool> m(nd, dims.empty());
  for (int64_t d : dims) m[normalize_dim(d, nd, op)] = true;
  return m;
}

// Shape of the reduction's output with reduced dims kept as size 1.
Shape kept_shape(const Shape& in, const std::vector<bool>& mask) {
  Shape s = in;
  for (size_t d = 0; d < s.size(); ++d)
    if (mask[d]) s[d] = 1;
  return s;
}

// The gradient g (reduced shape, with or without kept dims) as a contiguous tensor of the kept
// shape: an operand that broadcasts against `in`, which the kernels run fast where the reduced dims
// are trailing (one value per row: per-channel statistics of feature maps).
Tensor kept_grad(const Tensor& g, const Shape& in, const std::vector<bool>& mask) {
  const Shape kept = kept_shape(in, mask);
  const Tensor gk = g.contiguous();
  return gk.as_strided(kept, contiguous_strides(kept), gk.offset());
}

// A view of g broadcast to `in` shape.
Tensor expand_back(const Tensor& g, const Shape& in, const std::vector<bool>& mask) {
  const Tensor gk = kept_grad(g, in, mask);
  return gk.as_strided(in, broadcast_strides(gk.shape(), gk.strides(), in), gk.offset());
}

int64_t reduced_count(const Shape& in, const std::vector<bool>& mask) {
  int64_t n = 1;
  for (size_t d = 0; d < in.size(); ++d)
    if (mask[d]) n *= in[d];
  return n;
}

Tensor extreme(Reduce op, const char* name, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  const auto mask = reduced_mask(dims, x.dim(), name);
  Tensor out = kernels::reduce(op, x, dims, keepdim, name);
  const Tensor sx = x.detach(), so = out.detach();
  return autograd::record(name, {x}, out, [=](const Tensor& g) {
    // Equal share of the gradient for each position that attains the extreme.
    const Tensor hit = kernels::binary(Binary::Eq, sx, kept_grad(so, sx.shape(), mask));
    const Tensor count = kernels::reduce(Reduce::Sum, hit, dims, true);
    const Tensor share = kernels::binary(Binary::Div, hit, count);
    return autograd::Grads{kernels::binary(Binary::Mul, share, kept_grad(g, sx.shape(), mask))};
  });
}
}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  const auto mask = reduced_mask(dims, x.dim(), "sum");
  Tensor out = kernels::reduce(Reduce::Sum, x, dims, keepdim, "sum");
  const Shape in = x.shape();
  return autograd::record("sum", {x}, out, [=](const Tensor& g) { return autograd::Grads{expand_back(g, in, mask)}; });
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  const auto mask = reduced_mask(dims, x.dim(), "mean");
  const int64_t n = reduced_count(x.shape(), mask);
  SN_CHECK(n > 0, "mean: reducing over zero elements of a tensor of shape ", shape_str(x.shape()));
  Tensor out = kernels::unary(Unary::MulScalar, kernels::reduce(Reduce::Sum, x, dims, keepdim, "mean"), 1.0 / n);
  const Shape in = x.shape();
  return autograd::record("mean", {x}, out, [=](const Tensor& g) {
    return autograd::Grads{kernels::unary(Unary::MulScalar, expand_back(g, in, mask), 1.0 / n)};
  });
}

Tensor var(const Tensor& x, const std::vector<int64_t>& dims, int64_t correction, bool keepdim) {
  const auto mask = reduced_mask(dims, x.dim(), "var");
  const int64_t n = reduced_count(x.shape(), mask);
  SN_CHECK(n - correction > 0, "var: ", n, " elements are too few for correction ", correction,
           " (tensor of shape ", shape_str(x.shape()), ")");
  // Two passes (mean, then squared deviations) for accuracy.
  const Tensor mu = kernels::unary(Unary::MulScalar, kernels::reduce(Reduce::Sum, x, dims, true, "var"), 1.0 / n);
  const Tensor centred = kernels::binary(Binary::Sub, x, mu);
  Tensor out = kernels::unary(Unary::MulScalar,
                              kernels::reduce(Reduce::Sum, kernels::unary(Unary::Square, centred), dims, keepdim, "var"),
                              1.0 / static_cast<double>(n - correction));
  const Shape in = x.shape();
  return autograd::record("var", {x}, out, [=](const Tensor& g) {
    const double k = 2.0 / static_cast<double>(n - correction);
    return autograd::Grads{kernels::binary(Binary::Mul, kernels::unary(Unary::MulScalar, centred, k), kept_grad(g, in, mask))};
  });
}

Tensor max(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme(Reduce::Max, "max", x, dims, keepdim);
}
Tensor min(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme(Reduce::Min, "min", x, dims, keepdim);
}

}  // namespace sn
