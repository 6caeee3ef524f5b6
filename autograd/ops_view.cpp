// Differentiable views (no copy when the layout allows) plus matmul and concatenation.
#include <numeric>
#include <optional>

#include "autograd/ops.h"
#include "autograd/record.h"
#include "tensor/kernels/core.h"
#include "tensor/strided_loop.h"

namespace sn {

namespace {

// Strides that let new_shape view the same elements as (shape, strides), if any exist.
// Groups of old dims that are mutually contiguous can be split or merged freely (as PyTorch's
// computeStride does); anything else needs a copy.
std::optional<Shape> view_strides(const Shape& shape, const Shape& strides, const Shape& new_shape) {
  if (numel(shape) == 0) return contiguous_strides(new_shape);
  Shape out(new_shape.size());
  int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
  int64_t chunk_base_stride = strides.empty() ? 1 : strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= shape[d];
    if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

// Resolves a single -1 and checks the element count.
Shape infer_shape(const Shape& shape, int64_t n, const Shape& from, const char* op) {
  Shape s = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      SN_CHECK(infer < 0, op, ": only one dim may be -1, got ", shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else {
      SN_CHECK(s[i] >= 0, op, ": invalid size in ", shape_str(shape));
      known *= s[i];
    }
  }
  if (infer >= 0) {
    SN_CHECK(known > 0 && n % known == 0, op, ": cannot reshape a tensor of shape ", shape_str(from),
             " into ", shape_str(shape));
    s[infer] = n / known;
  }
  SN_CHECK(numel(s) == n, op, ": cannot reshape a tensor of shape ", shape_str(from), " (", n,
           " elements) into ", shape_str(shape));
  return s;
}

// Records a view `out` of x whose backward maps g back to x's shape with `back`.
template <class F>
Tensor view_op(const char* name, const Tensor& x, const Tensor& out, F back) {
  return autograd::record(name, {x}, out, [back](const Tensor& g) { return autograd::Grads{back(g)}; });
}

Tensor reshape_raw(const Tensor& t, const Shape& shape) {
  if (auto st = view_strides(t.shape(), t.strides(), shape)) return t.as_strided(shape, *st, t.offset());
  Tensor c = t.clone_data();
  return c.as_strided(shape, contiguous_strides(shape), 0);
}

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  const Shape s = infer_shape(shape, x.numel(), x.shape(), "reshape");
  const Shape in = x.shape();
  return view_op("reshape", x, reshape_raw(x, s), [in](const Tensor& g) { return reshape_raw(g, in); });
}

Tensor view(const Tensor& x, const Shape& shape) {
  const Shape s = infer_shape(shape, x.numel(), x.shape(), "view");
  auto st = view_strides(x.shape(), x.strides(), s);
  SN_CHECK(st.has_value(), "view: a tensor of shape ", shape_str(x.shape()), " with strides ",
           shape_str(x.strides()), " cannot be viewed as ", shape_str(s), " without a copy; use reshape");
  const Shape in = x.shape();
  return view_op("view", x, x.as_strided(s, *st, x.offset()), [in](const Tensor& g) { return reshape_raw(g, in); });
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  start_dim = normalize_dim(start_dim, x.dim(), "flatten");
  end_dim = normalize_dim(end_dim, x.dim(), "flatten");
  SN_CHECK(start_dim <= end_dim, "flatten: start_dim ", start_dim, " is after end_dim ", end_dim);
  Shape s(x.shape().begin(), x.shape().begin() + start_dim);
  int64_t merged = 1;
  for (int64_t d = start_dim; d <= end_dim; ++d) merged *= x.shape()[d];
  s.push_back(merged);
  s.insert(s.end(), x.shape().begin() + end_dim + 1, x.shape().end());
  return reshape(x, s);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& order) {
  const int64_t nd = x.dim();
  SN_CHECK(static_cast<int64_t>(order.size()) == nd, "permute: order has ", order.size(),
           " dims but the tensor of shape ", shape_str(x.shape()), " has ", nd);
  Shape shape(nd), strides(nd);
  std::vector<int64_t> inverse(nd, -1);
  for (int64_t i = 0; i < nd; ++i) {
    const int64_t d = normalize_dim(order[i], nd, "permute");
    SN_CHECK(inverse[d] < 0, "permute: dim ", d, " repeated in ", shape_str(order));
    inverse[d] = i;
    shape[i] = x.shape()[d];
    strides[i] = x.strides()[d];
  }
  return view_op("permute", x, x.as_strided(shape, strides, x.offset()),
                 [inverse](const Tensor& g) {
                   Shape s(inverse.size()), st(inverse.size());
                   for (size_t i = 0; i < inverse.size(); ++i) {
                     s[i] = g.shape()[inverse[i]];
                     st[i] = g.strides()[inverse[i]];
                   }
                   return g.as_strided(s, st, g.offset());
                 });
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  d0 = normalize_dim(d0, x.dim(), "transpose");
  d1 = normalize_dim(d1, x.dim(), "transpose");
  std::vector<int64_t> order(x.dim());
  std::iota(order.begin(), order.end(), 0);
  std::swap(order[d0], order[d1]);
  return permute(x, order);
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  dim = normalize_dim(dim, x.dim(), "slice");
  SN_CHECK(step > 0, "slice: step must be positive, got ", step);
  const int64_t n = x.shape()[dim];
  auto clampi = [n](int64_t i) { return i < 0 ? std::max<int64_t>(i + n, 0) : std::min(i, n); };
  start = clampi(start);
  end = std::max(clampi(end), start);
  Shape shape = x.shape(), strides = x.strides();
  shape[dim] = (end - start + step - 1) / step;
  strides[dim] *= step;
  const Tensor out = x.as_strided(shape, strides, x.offset() + start * x.strides()[dim]);
  const Shape in = x.shape();
  const DType dt = x.dtype();
  const Device dev = x.device();
  return view_op("slice", x, out, [=](const Tensor& g) {
    Tensor full = Tensor::zeros(in, dt, dev);
    Shape st = full.strides();
    const int64_t off = start * st[dim];
    st[dim] *= step;
    full.as_strided(g.shape(), st, off).copy_from(g);
    return full;
  });
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  dim = normalize_dim(dim, x.dim(), "select");
  const int64_t n = x.shape()[dim];
  SN_CHECK(index >= -n && index < n, "select: index ", index, " is out of range for dim ", dim,
           " of size ", n);
  if (index < 0) index += n;
  return squeeze(slice(x, dim, index, index + 1), dim);
}

Tensor expand(const Tensor& x, const Shape& shape_in) {
  SN_CHECK(shape_in.size() >= static_cast<size_t>(x.dim()), "expand: cannot expand shape ",
           shape_str(x.shape()), " to fewer dims ", shape_str(shape_in));
  Shape shape = shape_in;
  const size_t lead = shape.size() - x.dim();
  for (size_t i = 0; i < shape.size(); ++i) {
    const int64_t have = i < lead ? 1 : x.shape()[i - lead];
    if (shape[i] == -1) {
      SN_CHECK(i >= lead, "expand: -1 is not allowed for a new leading dim in ", shape_str(shape_in));
      shape[i] = have;
    }
    SN_CHECK(have == shape[i] || have == 1, "expand: cannot expand shape ", shape_str(x.shape()),
             " to ", shape_str(shape_in), " (dim ", i, ")");
  }
  const Shape in = x.shape();
  return view_op("expand", x, x.as_strided(shape, broadcast_strides(x.shape(), x.strides(), shape), x.offset()),
                 [in](const Tensor& g) { return kernels::sum_to_shape(g, in); });
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  dim = normalize_dim(dim, x.dim() + 1, "unsqueeze");
  Shape s = x.shape();
  s.insert(s.begin() + dim, 1);
  return reshape(x, s);
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  dim = normalize_dim(dim, x.dim(), "squeeze");
  if (x.shape()[dim] != 1) return x;
  Shape s = x.shape();
  s.erase(s.begin() + dim);
  return reshape(x, s);
}

Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  return view_op("contiguous", x, x.clone_data(), [](const Tensor& g) { return g; });
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  SN_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both operands need at least 1 dim, got ",
           shape_str(a.shape()), " and ", shape_str(b.shape()));
  // 1-D operands become matrices and the added dim is squeezed away again, all differentiably,
  // so the core only ever sees [..., M, K] @ [..., K, N].
  if (a.dim() == 1) return squeeze(matmul(unsqueeze(a, 0), b), b.dim() == 1 ? -1 : -2);
  if (b.dim() == 1) return squeeze(matmul(a, unsqueeze(b, -1)), -1);
  Tensor out = kernels::matmul(a, b);
  const Tensor sa = a.detach(), sb = b.detach();
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return autograd::record("matmul", {a, b}, out, [=](const Tensor& g) {
    autograd::Grads r(2);
    auto t = [](const Tensor& m) {  // swap the last two dims (a view)
      Shape s = m.shape(), st = m.strides();
      std::swap(s[s.size() - 1], s[s.size() - 2]);
      std::swap(st[st.size() - 1], st[st.size() - 2]);
      return m.as_strided(s, st, m.offset());
    };
    if (ga) r[0] = kernels::sum_to_shape(kernels::matmul(g, t(sb)), sa.shape());
    if (gb) r[1] = kernels::sum_to_shape(kernels::matmul(t(sa), g), sb.shape());
    return r;
  });
}

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  Tensor out = kernels::cat(xs, dim);
  dim = normalize_dim(dim, xs[0].dim(), "cat");
  std::vector<int64_t> sizes;
  for (const Tensor& x : xs) sizes.push_back(x.shape()[dim]);
  return autograd::record("cat", xs, out, [sizes, dim](const Tensor& g) {
    autograd::Grads r;
    int64_t start = 0;
    for (int64_t n : sizes) {
      Shape s = g.shape();
      s[dim] = n;
      r.push_back(g.as_strided(s, g.strides(), g.offset() + start * g.strides()[dim]));
      start += n;
    }
    return r;
  });
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  SN_CHECK(!xs.empty(), "stack: expected at least one tensor");
  dim = normalize_dim(dim, xs[0].dim() + 1, "stack");
  std::vector<Tensor> u;
  for (const Tensor& x : xs) {
    SN_CHECK(x.shape() == xs[0].shape(), "stack: tensors of shape ", shape_str(xs[0].shape()), " and ",
             shape_str(x.shape()), " differ");
    u.push_back(unsqueeze(x, dim));
  }
  return cat(u, dim);
}

}  // namespace sn
