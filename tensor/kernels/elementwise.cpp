// Reference elementwise kernels: one scalar function per op, applied through for_each_strided.
#include <cmath>

#include "tensor/cpu/isa.h"
#include "tensor/cpu/pointwise.h"
#include "tensor/cuda/ops.h"
#include "tensor/kernels/core.h"
#include "tensor/strided_loop.h"

namespace sn::kernels {

namespace {

template <class T>
T apply_unary(Unary op, T x, T a, T b) {
  switch (op) {
    case Unary::Neg: return -x;
    case Unary::Exp: return std::exp(x);
    case Unary::Log: return std::log(x);
    case Unary::Sqrt: return std::sqrt(x);
    case Unary::Abs: return std::abs(x);
    case Unary::Sign: return static_cast<T>((x > 0) - (x < 0));
    case Unary::Square: return x * x;
    case Unary::Reciprocal: return T(1) / x;
    case Unary::Relu: return x > 0 ? x : T(0);
    case Unary::LeakyRelu: return x > 0 ? x : a * x;
    case Unary::LeakyReluGrad: return x > 0 ? T(1) : a;
    case Unary::Tanh: return std::tanh(x);
    case Unary::Sigmoid: return T(1) / (T(1) + std::exp(-x));
    case Unary::Clamp: return x < a ? a : (x > b ? b : x);
    case Unary::ClampMask: return (x >= a && x <= b) ? T(1) : T(0);
    case Unary::PowScalar: return std::pow(x, a);
    case Unary::MulScalar: return x * a;
    case Unary::AddScalar: return x + a;
  }
  return x;
}

template <class T>
T apply_binary(Binary op, T x, T y) {
  switch (op) {
    case Binary::Add: return x + y;
    case Binary::Sub: return x - y;
    case Binary::Mul: return x * y;
    case Binary::Div: return x / y;
    case Binary::Pow: return std::pow(x, y);
    case Binary::Maximum: return x > y ? x : y;
    case Binary::Minimum: return x < y ? x : y;
    case Binary::Eq: return x == y ? T(1) : T(0);
    case Binary::Gt: return x > y ? T(1) : T(0);
    case Binary::Ge: return x >= y ? T(1) : T(0);
    case Binary::Lt: return x < y ? T(1) : T(0);
    case Binary::Le: return x <= y ? T(1) : T(0);
  }
  return x;
}

// Contiguous float32 goes to the fast kernels (tensor/cpu/pointwise.h) unless STYLENET_ISA=ref.
bool use_fast(const Tensor& t) {
  return t.dtype() == DType::Float32 && t.is_contiguous() && cpu::active_isa() != cpu::Isa::Ref;
}

// Where an operand of `shape` with `strides` (its own, or broadcast_strides of a smaller one) holds
// one value per row of the trailing dims from some k on (strides 0 there, contiguous before:
// [N, C, 1, 1] broadcast against [N, C, H, W], or the view a reduction's backward expands its
// gradient into), the rows' length; 0 otherwise (and for rows of one element: no broadcast).
int64_t row_length(const Shape& shape, const Shape& strides) {
  size_t k = shape.size();
  int64_t inner = 1;
  for (; k > 0 && (strides[k - 1] == 0 || shape[k - 1] == 1); --k) inner *= shape[k - 1];
  int64_t expected = 1;
  for (size_t d = k; d-- > 0;) {
    if (shape[d] != 1 && strides[d] != expected) return 0;
    expected *= shape[d];
  }
  return inner > 1 ? inner : 0;
}

// The same for an operand t of a float32 op broadcast to `shape`, where the fast kernels run.
int64_t row_length(const Tensor& t, const Shape& shape) {
  if (t.dtype() != DType::Float32 || cpu::active_isa() == cpu::Isa::Ref) return 0;
  return row_length(shape, broadcast_strides(t.shape(), t.strides(), shape));
}

// The value of each row of such a view, as a contiguous [outer] tensor (a view, no copy).
Tensor row_values(const Tensor& t, int64_t inner) { return t.as_strided({t.numel() / inner}, {1}, t.offset()); }
}  // namespace

const char* binary_name(Binary op) {
  static const char* names[] = {"add", "sub", "mul", "div", "pow", "maximum",
                                "minimum", "eq", "gt", "ge", "lt", "le"};
  return names[static_cast<int>(op)];
}

Tensor unary(Unary op, const Tensor& x, double a, double b) {
  SN_CUDA_ROUTE(x, unary(op, x, a, b));
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  if (use_fast(x)) {
    cpu::unary_f32(op, x.data<float>(), out.data<float>(), x.numel(), static_cast<float>(a), static_cast<float>(b));
    return out;
  }
  // A broadcast view of one value per row: the op once per row, then the rows filled.
  if (const int64_t inner = out.numel() > 0 ? row_length(x, x.shape()) : 0) {
    const Tensor rows = unary(op, row_values(x, inner), a, b);
    cpu::expand_rows_f32(rows.data<float>(), out.data<float>(), out.numel() / inner, inner);
    return out;
  }
  dispatch(x.dtype(), [&]<class T>() {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    const T ta = static_cast<T>(a), tb = static_cast<T>(b);
    if (x.is_contiguous()) {
      for (int64_t i = 0, n = x.numel(); i < n; ++i) po[i] = apply_unary(op, px[i], ta, tb);
      return;
    }
    for_each_strided<2>(x.shape(), {out.strides(), x.strides()}, {0, 0},
                        [&](const std::array<int64_t, 2>& o) { po[o[0]] = apply_unary(op, px[o[1]], ta, tb); });
  });
  return out;
}

Tensor binary(Binary op, const Tensor& a, const Tensor& b) {
  SN_CHECK(a.dtype() == b.dtype(), binary_name(op), ": dtype mismatch (", dtype_name(a.dtype()),
           " vs ", dtype_name(b.dtype()), ")");
  check_same_device(binary_name(op), a, b);
  SN_CUDA_ROUTE(a, binary(op, a, b));
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), binary_name(op));
  Tensor out = Tensor::empty(shape, a.dtype());
  // Fast: same-shape operands, or one of them a single element.
  if (use_fast(a) && use_fast(b) && (a.shape() == shape || a.numel() == 1) && (b.shape() == shape || b.numel() == 1)) {
    cpu::binary_f32(op, a.data<float>(), a.shape() == shape ? 1 : 0, b.data<float>(), b.shape() == shape ? 1 : 0,
                    out.data<float>(), out.numel());
    return out;
  }
  // Fast: a full operand against one value per row (feature maps against per-channel statistics),
  // given as a tensor of the rows' shape or as a broadcast view of one.
  for (const bool a_full : {true, false}) {
    const Tensor& full = a_full ? a : b;
    const Tensor& rows = a_full ? b : a;
    if (!use_fast(full) || full.shape() != shape || out.numel() == 0) continue;
    const int64_t inner = row_length(rows, shape);
    if (inner == 0) continue;
    cpu::binary_rows_f32(op, full.data<float>(), rows.data<float>(), !a_full, out.data<float>(),
                         out.numel() / inner, inner);
    return out;
  }
  dispatch(a.dtype(), [&]<class T>() {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    if (a.shape() == shape && b.shape() == shape && a.is_contiguous() && b.is_contiguous()) {
      for (int64_t i = 0, n = out.numel(); i < n; ++i) po[i] = apply_binary(op, pa[i], pb[i]);
      return;
    }
    const Shape sa = broadcast_strides(a.shape(), a.strides(), shape);
    const Shape sb = broadcast_strides(b.shape(), b.strides(), shape);
    for_each_strided<3>(shape, {out.strides(), sa, sb}, {0, 0, 0},
                        [&](const std::array<int64_t, 3>& o) { po[o[0]] = apply_binary(op, pa[o[1]], pb[o[2]]); });
  });
  return out;
}

namespace {
// add_ of one value per row of a large contiguous float32 dst (a per-channel offset broadcast
// along the pixels, as WCT adds its mean back): the rows' values, alpha * src, gathered once, then
// the fast row kernel. The same bits as the reference (dst + (alpha * src) in float), which ran it
// serially element by element: 62 ms of a 1024 px `stylize`.
bool add_rows_(const Tensor& dst, const Tensor& src, double alpha) {
  constexpr int64_t kMinElements = int64_t{1} << 15;
  const int64_t nd = dst.dim();
  if (!use_fast(dst) || src.dtype() != DType::Float32 || nd == 0 || dst.numel() < kMinElements) return false;
  const Shape ss = broadcast_strides(src.shape(), src.strides(), dst.shape());
  if (ss[nd - 1] != 0) return false;
  const std::vector<int64_t> at = row_offsets(dst.shape(), ss);
  const float al = static_cast<float>(alpha);
  const float* ps = src.data<float>();
  std::vector<float> r(at.size());
  for (size_t o = 0; o < at.size(); ++o) r[o] = al * ps[at[o]];
  float* pd = dst.data<float>();
  cpu::binary_rows_f32(Binary::Add, pd, r.data(), false, pd, static_cast<int64_t>(r.size()), dst.shape()[nd - 1]);
  return true;
}
}  // namespace

void add_(const Tensor& dst, const Tensor& src, double alpha) {
  SN_CHECK(dst.dtype() == src.dtype(), "add_: dtype mismatch (", dtype_name(dst.dtype()), " vs ",
           dtype_name(src.dtype()), ")");
  SN_CHECK(broadcast_shapes(src.shape(), dst.shape(), "add_") == dst.shape(), "add_: cannot add a tensor of shape ",
           shape_str(src.shape()), " into one of shape ", shape_str(dst.shape()));
  check_same_device("add_", dst, src);
  dst.mark_written();
  SN_CUDA_ROUTE(dst, add_(dst, src, alpha));
  if (use_fast(dst) && use_fast(src) && (src.shape() == dst.shape() || src.numel() == 1)) {
    cpu::axpy_f32(dst.data<float>(), src.data<float>(), src.shape() == dst.shape() ? 1 : 0, static_cast<float>(alpha),
                  dst.numel());
    return;
  }
  if (add_rows_(dst, src, alpha)) return;
  dispatch(dst.dtype(), [&]<class T>() {
    T* pd = dst.data<T>();
    const T* ps = src.data<T>();
    const T al = static_cast<T>(alpha);
    const Shape ss = broadcast_strides(src.shape(), src.strides(), dst.shape());
    for_each_strided<2>(dst.shape(), {dst.strides(), ss}, {0, 0},
                        [&](const std::array<int64_t, 2>& o) { pd[o[0]] += al * ps[o[1]]; });
  });
}

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  SN_CHECK(!xs.empty(), "cat: expected at least one tensor");
  const Tensor& first = xs[0];
  dim = normalize_dim(dim, first.dim(), "cat");
  Shape shape = first.shape();
  shape[dim] = 0;
  for (const Tensor& x : xs) {
    SN_CHECK(x.dtype() == first.dtype(), "cat: dtype mismatch (", dtype_name(first.dtype()), " vs ",
             dtype_name(x.dtype()), ")");
    bool ok = x.dim() == first.dim();
    for (int64_t d = 0; ok && d < x.dim(); ++d) ok = d == dim || x.shape()[d] == first.shape()[d];
    SN_CHECK(ok, "cat: tensors of shape ", shape_str(first.shape()), " and ", shape_str(x.shape()),
             " differ outside dim ", dim);
    check_same_device("cat", first, x);
    shape[dim] += x.shape()[dim];
  }
  Tensor out = Tensor::empty(shape, first.dtype(), first.device());
  int64_t start = 0;
  for (const Tensor& x : xs) {
    Shape st = out.strides();
    Tensor slot = out.as_strided(x.shape(), st, start * st[dim]);
    slot.copy_from(x);
    start += x.shape()[dim];
  }
  return out;
}

}  // namespace sn::kernels
