// Differentiable elementwise ops. Each forward is one kernel call; each backward is the textbook
// derivative, summed back over broadcast dims with sum_to_shape.
#include "autograd/ops.h"
#include "autograd/record.h"
#include "tensor/kernels/core.h"

namespace sn {

namespace {
using kernels::Binary;
using kernels::Unary;
using kernels::binary;
using kernels::sum_to_shape;
using kernels::unary;

Tensor mulk(const Tensor& a, const Tensor& b) { return binary(Binary::Mul, a, b); }

// Binary op whose gradients are g * da and g * db, with da/db computed from the saved inputs.
template <class DA, class DB>
Tensor binary_op(Binary op, const Tensor& a, const Tensor& b, DA da, DB db) {
  Tensor out = binary(op, a, b);
  const Tensor sa = a.detach(), sb = b.detach(), so = out.detach();
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return autograd::record(kernels::binary_name(op), {a, b}, out, [=](const Tensor& g) {
    autograd::Grads r(2);
    if (ga) r[0] = sum_to_shape(da(g, sa, sb, so), sa.shape());
    if (gb) r[1] = sum_to_shape(db(g, sa, sb, so), sb.shape());
    return r;
  });
}

// Unary op whose gradient is g * d(x, y) with x the input and y the output.
template <class D>
Tensor unary_op(const char* name, Unary op, const Tensor& x, D d, double a = 0, double b = 0) {
  Tensor out = unary(op, x, a, b);
  const Tensor sx = x.detach(), so = out.detach();
  return autograd::record(name, {x}, out, [=](const Tensor& g) { return autograd::Grads{mulk(g, d(sx, so))}; });
}

Tensor scalar_like(double v, const Tensor& t) { return Tensor::scalar(v, t.dtype(), t.device()); }
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return binary_op(Binary::Add, a, b, [](const Tensor& g, auto&, auto&, auto&) { return g; },
                   [](const Tensor& g, auto&, auto&, auto&) { return g; });
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary_op(Binary::Sub, a, b, [](const Tensor& g, auto&, auto&, auto&) { return g; },
                   [](const Tensor& g, auto&, auto&, auto&) { return unary(Unary::Neg, g); });
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary_op(Binary::Mul, a, b, [](const Tensor& g, auto&, const Tensor& y, auto&) { return mulk(g, y); },
                   [](const Tensor& g, const Tensor& x, auto&, auto&) { return mulk(g, x); });
}
Tensor div(const Tensor& a, const Tensor& b) {
  return binary_op(
      Binary::Div, a, b, [](const Tensor& g, auto&, const Tensor& y, auto&) { return binary(Binary::Div, g, y); },
      // d(a/b)/db = -(a/b)/b
      [](const Tensor& g, auto&, const Tensor& y, const Tensor& o) {
        return unary(Unary::Neg, binary(Binary::Div, mulk(g, o), y));
      });
}
Tensor pow(const Tensor& a, const Tensor& b) {
  return binary_op(
      Binary::Pow, a, b,
      // d(a^b)/da = b * a^(b-1)
      [](const Tensor& g, const Tensor& x, const Tensor& y, auto&) {
        return mulk(g, mulk(y, binary(Binary::Pow, x, unary(Unary::AddScalar, y, -1.0))));
      },
      // d(a^b)/db = a^b * log(a)
      [](const Tensor& g, const Tensor& x, auto&, const Tensor& o) { return mulk(g, mulk(o, unary(Unary::Log, x))); });
}
Tensor maximum(const Tensor& a, const Tensor& b) {
  return binary_op(
      Binary::Maximum, a, b, [](const Tensor& g, const Tensor& x, const Tensor& y, auto&) { return mulk(g, binary(Binary::Ge, x, y)); },
      [](const Tensor& g, const Tensor& x, const Tensor& y, auto&) { return mulk(g, binary(Binary::Lt, x, y)); });
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return binary_op(
      Binary::Minimum, a, b, [](const Tensor& g, const Tensor& x, const Tensor& y, auto&) { return mulk(g, binary(Binary::Le, x, y)); },
      [](const Tensor& g, const Tensor& x, const Tensor& y, auto&) { return mulk(g, binary(Binary::Gt, x, y)); });
}

Tensor pow(const Tensor& x, double p) {
  return unary_op("pow", Unary::PowScalar, x,
                  [p](const Tensor& sx, auto&) { return unary(Unary::MulScalar, unary(Unary::PowScalar, sx, p - 1), p); }, p);
}
Tensor neg(const Tensor& x) {
  Tensor out = unary(Unary::Neg, x);
  return autograd::record("neg", {x}, out, [](const Tensor& g) { return autograd::Grads{unary(Unary::Neg, g)}; });
}
Tensor exp(const Tensor& x) {
  return unary_op("exp", Unary::Exp, x, [](auto&, const Tensor& y) { return y; });
}
Tensor log(const Tensor& x) {
  return unary_op("log", Unary::Log, x, [](const Tensor& sx, auto&) { return unary(Unary::Reciprocal, sx); });
}
Tensor sqrt(const Tensor& x) {
  return unary_op("sqrt", Unary::Sqrt, x,
                  [](auto&, const Tensor& y) { return unary(Unary::MulScalar, unary(Unary::Reciprocal, y), 0.5); });
}
Tensor abs(const Tensor& x) {
  return unary_op("abs", Unary::Abs, x, [](const Tensor& sx, auto&) { return unary(Unary::Sign, sx); });
}
Tensor square(const Tensor& x) {
  return unary_op("square", Unary::Square, x, [](const Tensor& sx, auto&) { return unary(Unary::MulScalar, sx, 2.0); });
}
Tensor relu(const Tensor& x) {
  return unary_op("relu", Unary::Relu, x, [](const Tensor& sx, auto&) { return unary(Unary::LeakyReluGrad, sx, 0.0); });
}
Tensor leaky_relu(const Tensor& x, double slope) {
  return unary_op("leaky_relu", Unary::LeakyRelu, x,
                  [slope](const Tensor& sx, auto&) { return unary(Unary::LeakyReluGrad, sx, slope); }, slope);
}
Tensor tanh(const Tensor& x) {
  // 1 - y^2
  return unary_op("tanh", Unary::Tanh, x, [](auto&, const Tensor& y) {
    return unary(Unary::AddScalar, unary(Unary::Neg, unary(Unary::Square, y)), 1.0);
  });
}
Tensor sigmoid(const Tensor& x) {
  // y * (1 - y)
  return unary_op("sigmoid", Unary::Sigmoid, x, [](auto&, const Tensor& y) {
    return mulk(y, unary(Unary::AddScalar, unary(Unary::Neg, y), 1.0));
  });
}
Tensor clamp(const Tensor& x, double lo, double hi) {
  SN_CHECK(lo <= hi, "clamp: lower bound ", lo, " is above upper bound ", hi);
  return unary_op("clamp", Unary::Clamp, x, [lo, hi](const Tensor& sx, auto&) { return unary(Unary::ClampMask, sx, lo, hi); },
                  lo, hi);
}
Tensor add_scalar(const Tensor& x, double s) {
  Tensor out = unary(Unary::AddScalar, x, s);
  return autograd::record("add_scalar", {x}, out, [](const Tensor& g) { return autograd::Grads{g}; });
}
Tensor mul_scalar(const Tensor& x, double s) {
  Tensor out = unary(Unary::MulScalar, x, s);
  return autograd::record("mul_scalar", {x}, out,
                          [s](const Tensor& g) { return autograd::Grads{unary(Unary::MulScalar, g, s)}; });
}

Tensor gt(const Tensor& a, const Tensor& b) { return binary(Binary::Gt, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary(Binary::Lt, a, b); }
Tensor eq(const Tensor& a, const Tensor& b) { return binary(Binary::Eq, a, b); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, double s) { return add_scalar(a, s); }
Tensor operator-(const Tensor& a, double s) { return add_scalar(a, -s); }
Tensor operator*(const Tensor& a, double s) { return mul_scalar(a, s); }
Tensor operator/(const Tensor& a, double s) { return div(a, scalar_like(s, a)); }
Tensor operator*(double s, const Tensor& a) { return mul_scalar(a, s); }
Tensor operator+(double s, const Tensor& a) { return add_scalar(a, s); }
Tensor operator-(double s, const Tensor& a) { return add_scalar(neg(a), s); }

}  // namespace sn
