// Plain reference kernels on tensors: no autograd, any strides, float32 or float64.
//
// These are the readable definitions of what each op computes. Fast SIMD/threaded kernels are
// tested against them. Differentiable wrappers live in autograd/.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace sn::kernels {

enum class Unary {
  Neg, Exp, Log, Sqrt, Abs, Sign, Square, Reciprocal,
  Relu, LeakyRelu,      // a = negative slope
  LeakyReluGrad,        // derivative of leaky_relu: 1 where x > 0, else a
  Tanh, Sigmoid,
  Clamp,                // to [a, b]
  ClampMask,            // 1 where a <= x <= b, else 0 (derivative of clamp)
  PowScalar,            // x ** a
  MulScalar, AddScalar  // x * a, x + a
};
Tensor unary(Unary op, const Tensor& x, double a = 0.0, double b = 0.0);

enum class Binary { Add, Sub, Mul, Div, Pow, Maximum, Minimum, Eq, Gt, Ge, Lt, Le };
// Broadcasting; both operands must have the same dtype. Comparisons give 1.0 / 0.0.
Tensor binary(Binary op, const Tensor& a, const Tensor& b);
const char* binary_name(Binary op);

// dst += alpha * src in place (src broadcast to dst's shape).
void add_(const Tensor& dst, const Tensor& src, double alpha = 1.0);

enum class Reduce { Sum, Max, Min };
// Reduces over `dims` (all dims when empty). keepdim leaves size-1 dims in place.
Tensor reduce(Reduce op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim,
              const char* opname = "reduce");
// Sums a broadcast gradient back to `shape` (the inverse of broadcasting, used by backward).
Tensor sum_to_shape(const Tensor& g, const Shape& shape);

// a [..., M, K] @ b [..., K, N] with broadcast batch dims; 1-D operands as in NumPy/PyTorch.
Tensor matmul(const Tensor& a, const Tensor& b);

// Concatenates along an existing dim.
Tensor cat(const std::vector<Tensor>& xs, int64_t dim);

}  // namespace sn::kernels
