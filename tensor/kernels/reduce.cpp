// Reference reductions: the output is broadcast back over the input (stride 0 on reduced dims),
// so one strided walk over the input accumulates every output element.
#include <algorithm>
#include <limits>

#include "tensor/cpu/isa.h"
#include "tensor/cpu/pointwise.h"
#include "tensor/cuda/ops.h"
#include "tensor/kernels/core.h"
#include "tensor/strided_loop.h"

namespace sn::kernels {

namespace {
// A contiguous float32 tensor reduced over dims that all come after the kept ones (ignoring
// size-1 dims) is `outer` rows of `inner` contiguous elements: the fast kernel's case.
bool fast_rows(const Tensor& x, const std::vector<bool>& reduced, int64_t* outer, int64_t* inner) {
  if (x.dtype() != DType::Float32 || !x.is_contiguous() || cpu::active_isa() == cpu::Isa::Ref) return false;
  *outer = *inner = 1;
  bool seen_reduced = false;
  for (int64_t d = 0; d < x.dim(); ++d) {
    const int64_t n = x.shape()[d];
    if (n == 1) continue;
    if (reduced[d]) {
      seen_reduced = true;
      *inner *= n;
    } else {
      if (seen_reduced) return false;
      *outer *= n;
    }
  }
  return true;
}

// A large float32 view reduced over dims that include its last one, contiguous (a window of a map
// reduced over its pixels, as the fusions' statistics do per tile): reduce_blocks_f32 over runs of
// the last dim. The reference's strided walk ran it serially, 69 ms of a 1024 px `stylize`.
bool fast_blocks(Reduce op, const Tensor& x, const std::vector<bool>& reduced, const Shape& kept, const Tensor& out) {
  constexpr int64_t kMinElements = int64_t{1} << 15;
  const int64_t nd = x.dim();
  if (x.dtype() != DType::Float32 || cpu::active_isa() == cpu::Isa::Ref || nd == 0 || x.numel() < kMinElements ||
      !reduced[nd - 1] || x.strides()[nd - 1] != 1)
    return false;
  Shape block = x.shape();  // the reduced dims; the kept ones are the outputs (`kept`)
  for (int64_t d = 0; d < nd; ++d)
    if (!reduced[d]) block[d] = 1;
  // Both are rows of x's strides: `kept` ends in the reduced last dim (size 1), `block` is walked
  // up to it.
  const std::vector<int64_t> out_at = row_offsets(kept, x.strides()), row_at = row_offsets(block, x.strides());
  cpu::reduce_blocks_f32(op, x.data<float>(), out_at.data(), static_cast<int64_t>(out_at.size()), row_at.data(),
                         static_cast<int64_t>(row_at.size()), x.shape()[nd - 1], out.data<float>());
  return true;
}

// x reduced over the dims flagged in `reduced`, which stay as size 1 (`kept` is that shape).
Tensor reduce_kept(Reduce op, const Tensor& x, const std::vector<bool>& reduced, const Shape& kept) {
  SN_CUDA_ROUTE(x, reduce(op, x, reduced));
  Tensor out = Tensor::empty(kept, x.dtype());
  int64_t outer = 0, inner = 0;
  if (fast_rows(x, reduced, &outer, &inner)) {
    cpu::reduce_rows_f32(op, x.data<float>(), outer, inner, out.data<float>());
    return out;
  }
  if (fast_blocks(op, x, reduced, kept, out)) return out;
  dispatch(x.dtype(), [&]<class T>() {
    // Sums accumulate in double whatever T is: a float32 sum over a whole image would otherwise
    // drift by ~sqrt(n) ulps, more than the tolerance we promise against PyTorch.
    const double init = op == Reduce::Sum   ? 0.0
                        : op == Reduce::Max ? -std::numeric_limits<double>::infinity()
                                            : std::numeric_limits<double>::infinity();
    std::vector<double> acc(out.numel(), init);
    const T* px = x.data<T>();
    const Shape so = broadcast_strides(kept, out.strides(), x.shape());
    for_each_strided<2>(x.shape(), {so, x.strides()}, {0, 0}, [&](const std::array<int64_t, 2>& o) {
      const double v = px[o[1]];
      double& a = acc[o[0]];
      if (op == Reduce::Sum) a += v;
      else if (op == Reduce::Max) a = (v > a || v != v) ? v : a;  // NaN propagates
      else a = (v < a || v != v) ? v : a;
    });
    T* po = out.data<T>();
    for (size_t i = 0; i < acc.size(); ++i) po[i] = static_cast<T>(acc[i]);
  });
  return out;
}
}  // namespace

Tensor reduce(Reduce op, const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim,
              const char* opname) {
  const int64_t nd = x.dim();
  std::vector<bool> reduced(nd, dims_in.empty());
  for (int64_t d : dims_in) {
    const int64_t k = normalize_dim(d, nd, opname);
    SN_CHECK(!reduced[k] || dims_in.empty(), opname, ": dim ", d, " given twice");
    reduced[k] = true;
  }
  if (op != Reduce::Sum) {
    for (int64_t d = 0; d < nd; ++d)
      SN_CHECK(!reduced[d] || x.shape()[d] > 0, opname, ": cannot reduce over dim ", d,
               " of size 0 in tensor of shape ", shape_str(x.shape()));
  }
  Shape kept = x.shape();  // output shape with size-1 reduced dims
  for (int64_t d = 0; d < nd; ++d)
    if (reduced[d]) kept[d] = 1;
  const Tensor out = reduce_kept(op, x, reduced, kept);
  if (keepdim) return out;
  Shape squeezed;
  for (int64_t d = 0; d < nd; ++d)
    if (!reduced[d]) squeezed.push_back(x.shape()[d]);
  return out.as_strided(squeezed, contiguous_strides(squeezed), 0);
}

Tensor sum_to_shape(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  const int64_t lead = g.dim() - static_cast<int64_t>(shape.size());
  SN_CHECK(lead >= 0, "sum_to_shape: cannot reduce ", shape_str(g.shape()), " to ", shape_str(shape));
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < g.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && g.shape()[d] != 1)) dims.push_back(d);
  if (dims.empty()) return g;  // only size-1 dims differ: same elements
  Tensor r = reduce(Reduce::Sum, g, dims, true, "sum_to_shape");
  return r.as_strided(shape, contiguous_strides(shape), 0);
}

}  // namespace sn::kernels
