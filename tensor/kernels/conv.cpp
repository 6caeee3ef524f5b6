// Reference 2-D convolution (cross-correlation, as PyTorch) and its three backward kernels, as
// direct loops. All three walk the same (kernel tap, output row) pairs through for_each_tap_row,
// so the index arithmetic that makes convolution error-prone is written once. The innermost loop
// always runs along an output row, which is contiguous in the output (and in grad_out); the input
// is read or written with stride `stride_w` alongside it.
//
// Sums accumulate in double, also for float32: a 3x3x256 convolution adds 2304 products per
// output, and float accumulation would drift past the tolerance we hold against PyTorch.
#include <algorithm>
#include <vector>

#include "tensor/cpu/conv.h"
#include "tensor/cpu/isa.h"
#include "tensor/cpu/pointwise.h"
#include "tensor/cuda/ops.h"
#include "tensor/kernels/image.h"

namespace sn::kernels {

int64_t conv_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  // Floor division; a negative span means the kernel does not fit at all.
  return span < 0 ? 0 : span / stride + 1;
}

namespace {

// One spatial axis: output index o with kernel tap k reads input index o * stride - pad + k * dilation.
struct ConvAxis {
  int64_t in, out, kernel, stride, pad, dilation;

  // The output indices [begin, end) whose tap k lands inside the input (the rest read padding).
  std::pair<int64_t, int64_t> valid_outputs(int64_t k) const {
    const int64_t first_input = k * dilation - pad;  // what output 0 reads
    // Need 0 <= o * stride + first_input <= in - 1.
    const int64_t begin = first_input >= 0 ? 0 : (-first_input + stride - 1) / stride;
    const int64_t last_room = in - 1 - first_input;
    const int64_t end = last_room < 0 ? 0 : std::min(out, last_room / stride + 1);
    return {std::min(begin, end), end};
  }
};

// One contiguous run of work: kernel tap (kh, kw) at output row oh reads input row ih, and
// output columns [ow_begin, ow_end) read input columns iw_begin, iw_begin + stride_w, ...
struct TapRow {
  int64_t kh, kw, oh, ih, ow_begin, ow_end, iw_begin;
};

// Calls f(TapRow) for every kernel tap and output row whose input row and columns are in range.
template <class F>
void for_each_tap_row(const ConvAxis& h, const ConvAxis& w, F&& f) {
  for (int64_t kh = 0; kh < h.kernel; ++kh) {
    const auto [oh_begin, oh_end] = h.valid_outputs(kh);
    for (int64_t kw = 0; kw < w.kernel; ++kw) {
      const auto [ow_begin, ow_end] = w.valid_outputs(kw);
      if (ow_begin == ow_end) continue;
      const int64_t iw_begin = ow_begin * w.stride - w.pad + kw * w.dilation;
      for (int64_t oh = oh_begin; oh < oh_end; ++oh)
        f(TapRow{kh, kw, oh, oh * h.stride - h.pad + kh * h.dilation, ow_begin, ow_end, iw_begin});
    }
  }
}

// Sizes shared by the forward and backward kernels, all read from the forward's operand shapes.
struct ConvGeometry {
  int64_t N, C, H, W;       // input
  int64_t O, KH, KW;        // weight [O, C / groups, KH, KW]
  int64_t OH, OW;           // output
  int64_t groups, in_per_group, out_per_group;
  ConvAxis h, w;

  ConvGeometry(const Shape& x, const Shape& weight, const Conv2dParams& p)
      : N(x[0]), C(x[1]), H(x[2]), W(x[3]), O(weight[0]), KH(weight[2]), KW(weight[3]),
        OH(conv_out_size(H, KH, p.stride[0], p.padding[0], p.dilation[0])),
        OW(conv_out_size(W, KW, p.stride[1], p.padding[1], p.dilation[1])),
        groups(p.groups), in_per_group(C / p.groups), out_per_group(O / p.groups),
        h{H, OH, KH, p.stride[0], p.padding[0], p.dilation[0]},
        w{W, OW, KW, p.stride[1], p.padding[1], p.dilation[1]} {}

  int64_t group_of_output(int64_t oc) const { return oc / out_per_group; }
  int64_t group_of_input(int64_t c) const { return c / in_per_group; }

  cpu::ConvShape cpu_shape() const {
    return {N, C, H, W, O, KH, KW, OH, OW, h.stride, w.stride, h.pad, w.pad, h.dilation, w.dilation, groups};
  }
};

// The weight cache's name for `weight`: only for frozen weights (Conv2dParams::frozen_weights),
// read as the caller's own tensor (a contiguous() copy is a new storage every call: nothing to keep).
cpu::WeightKey weight_key(const Tensor& weight_in, const Tensor& weight, const Conv2dParams& p) {
  if (!p.frozen_weights || !weight.same(weight_in) || !weight.storage()) return {};
  Storage& storage = *weight.storage();
  storage.mark_cached();
  return {storage.id(), storage.version(), weight.offset()};
}

// float32 goes to the fast kernels (tensor/cpu/conv.h) unless the reference ISA is forced.
bool use_fast(DType dt) { return dt == DType::Float32 && cpu::active_isa() != cpu::Isa::Ref; }

}  // namespace

namespace {
// A forward convolution's operands as the fast CPU kernels take them (contiguous), with its
// geometry and the weight cache's key for the weights.
struct FastConvArgs {
  Tensor x, weight, bias;
  ConvGeometry g;
  cpu::WeightKey key;

  FastConvArgs(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, const Conv2dParams& p)
      : x(x_in.contiguous()), weight(weight_in.contiguous()),
        bias(bias_in.defined() ? bias_in.contiguous() : Tensor()), g(x.shape(), weight.shape(), p),
        key(weight_key(weight_in, weight, p)) {}
  const float* bias_data() const { return bias.defined() ? bias.data<float>() : nullptr; }
};
}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, const Conv2dParams& p,
              bool relu) {
  check_same_device("conv2d", x_in, weight_in);
  check_same_device("conv2d", x_in, bias_in);
  SN_CUDA_ROUTE(x_in, conv2d(x_in, weight_in, bias_in, p, relu));
  if (!use_fast(x_in.dtype())) return conv2d_ref(x_in, weight_in, bias_in, p, relu);
  const FastConvArgs a(x_in, weight_in, bias_in, p);
  Tensor out = Tensor::empty({a.g.N, a.g.O, a.g.OH, a.g.OW}, a.x.dtype());
  cpu::conv2d_forward(a.g.cpu_shape(), a.x.data<float>(), a.weight.data<float>(), a.bias_data(), out.data<float>(),
                      relu, a.key);
  return out;
}

Tensor conv2d_relu_pool2x2(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, const Conv2dParams& p) {
  if (x_in.device().type != DeviceType::CPU || !use_fast(x_in.dtype()))
    return max_pool2d(conv2d(x_in, weight_in, bias_in, p, true), Pool2dParams{});
  check_same_device("conv2d", x_in, weight_in);
  check_same_device("conv2d", x_in, bias_in);
  const FastConvArgs a(x_in, weight_in, bias_in, p);
  Tensor out = Tensor::empty({a.g.N, a.g.O, a.g.OH / 2, a.g.OW / 2}, a.x.dtype());
  cpu::conv2d_relu_pool_forward(a.g.cpu_shape(), a.x.data<float>(), a.weight.data<float>(), a.bias_data(),
                                out.data<float>(), a.key);
  return out;
}

Tensor conv2d_backward_input(const Tensor& grad_out_in, const Tensor& weight_in, const Shape& x_shape,
                             const Conv2dParams& p) {
  check_same_device("conv2d_backward_input", grad_out_in, weight_in);
  SN_CUDA_ROUTE(grad_out_in, conv2d_backward_input(grad_out_in, weight_in, x_shape, p));
  if (!use_fast(grad_out_in.dtype())) return conv2d_backward_input_ref(grad_out_in, weight_in, x_shape, p);
  const Tensor grad_out = grad_out_in.contiguous(), weight = weight_in.contiguous();
  const ConvGeometry g(x_shape, weight.shape(), p);
  Tensor dx = Tensor::empty(x_shape, grad_out.dtype());
  cpu::conv2d_backward_input(g.cpu_shape(), grad_out.data<float>(), weight.data<float>(), dx.data<float>(),
                             weight_key(weight_in, weight, p));
  return dx;
}

Tensor conv2d_backward_weight(const Tensor& grad_out_in, const Tensor& x_in, const Shape& weight_shape,
                              const Conv2dParams& p) {
  check_same_device("conv2d_backward_weight", grad_out_in, x_in);
  SN_CUDA_ROUTE(x_in, conv2d_backward_weight(grad_out_in, x_in, weight_shape, p));
  if (!use_fast(x_in.dtype())) return conv2d_backward_weight_ref(grad_out_in, x_in, weight_shape, p);
  const Tensor grad_out = grad_out_in.contiguous(), x = x_in.contiguous();
  const ConvGeometry g(x.shape(), weight_shape, p);
  Tensor dw = Tensor::empty(weight_shape, x.dtype());
  cpu::conv2d_backward_weight(g.cpu_shape(), grad_out.data<float>(), x.data<float>(), dw.data<float>());
  return dw;
}

Tensor conv2d_backward_bias(const Tensor& grad_out_in) {
  SN_CUDA_ROUTE(grad_out_in, reduce(Reduce::Sum, grad_out_in, {true, false, true, true}).as_strided(
                                 {grad_out_in.size(1)}, {1}, 0));
  if (!use_fast(grad_out_in.dtype())) return conv2d_backward_bias_ref(grad_out_in);
  const Tensor grad_out = grad_out_in.contiguous();
  const int64_t N = grad_out.size(0), O = grad_out.size(1);
  Tensor db = Tensor::empty({O}, grad_out.dtype());
  cpu::ConvShape s{N, O, 1, 1, O, 1, 1, grad_out.size(2), grad_out.size(3), 1, 1, 0, 0, 1, 1, 1};
  cpu::conv2d_backward_bias(s, grad_out.data<float>(), db.data<float>());
  return db;
}

Tensor conv2d_ref(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, const Conv2dParams& p,
                  bool relu) {
  const Tensor x = x_in.contiguous(), weight = weight_in.contiguous();
  const Tensor bias = bias_in.defined() ? bias_in.contiguous() : Tensor();
  const ConvGeometry g(x.shape(), weight.shape(), p);
  Tensor out = Tensor::empty({g.N, g.O, g.OH, g.OW}, x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    const T* px = x.data<T>();
    const T* pw = weight.data<T>();
    const T* pb = bias.defined() ? bias.data<T>() : nullptr;
    T* po = out.data<T>();
    std::vector<double> acc(g.OH * g.OW);
    for (int64_t n = 0; n < g.N; ++n) {
      for (int64_t oc = 0; oc < g.O; ++oc) {
        std::fill(acc.begin(), acc.end(), pb ? static_cast<double>(pb[oc]) : 0.0);
        const int64_t first_c = g.group_of_output(oc) * g.in_per_group;
        for (int64_t cg = 0; cg < g.in_per_group; ++cg) {
          const T* x_plane = px + (n * g.C + first_c + cg) * g.H * g.W;
          const T* w_taps = pw + (oc * g.in_per_group + cg) * g.KH * g.KW;
          for_each_tap_row(g.h, g.w, [&](const TapRow& r) {
            const double wv = w_taps[r.kh * g.KW + r.kw];
            const T* x_row = x_plane + r.ih * g.W + r.iw_begin;
            double* acc_row = acc.data() + r.oh * g.OW;
            for (int64_t ow = r.ow_begin, i = 0; ow < r.ow_end; ++ow, i += g.w.stride)
              acc_row[ow] += wv * x_row[i];
          });
        }
        T* o_plane = po + (n * g.O + oc) * g.OH * g.OW;
        for (size_t i = 0; i < acc.size(); ++i) {
          const T v = static_cast<T>(acc[i]);  // rounded first: max(0, .) of the conv's value
          o_plane[i] = relu && v < 0 ? T(0) : v;
        }
      }
    }
  });
  return out;
}

Tensor relu_backward(const Tensor& grad_out_in, const Tensor& out_in) {
  check_same_device("relu_backward", grad_out_in, out_in);
  SN_CUDA_ROUTE(grad_out_in, relu_backward(grad_out_in, out_in));
  const Tensor grad_out = grad_out_in.contiguous(), out = out_in.contiguous();
  Tensor dx = Tensor::empty(grad_out.shape(), grad_out.dtype());
  if (use_fast(grad_out.dtype())) {
    cpu::relu_backward_f32(grad_out.data<float>(), out.data<float>(), dx.data<float>(), dx.numel());
    return dx;
  }
  dispatch(grad_out.dtype(), [&]<class T>() {
    const T* g = grad_out.data<T>();
    const T* y = out.data<T>();
    T* d = dx.data<T>();
    for (int64_t i = 0; i < dx.numel(); ++i) d[i] = y[i] > 0 ? g[i] : T(0);
  });
  return dx;
}

// dx[c, ih, iw] = sum over the outputs that read (ih, iw) of grad_out * weight: the forward's
// loops with the roles of input and output swapped (a scatter into the input plane).
Tensor conv2d_backward_input_ref(const Tensor& grad_out_in, const Tensor& weight_in, const Shape& x_shape,
                             const Conv2dParams& p) {
  const Tensor grad_out = grad_out_in.contiguous(), weight = weight_in.contiguous();
  const ConvGeometry g(x_shape, weight.shape(), p);
  Tensor dx = Tensor::empty(x_shape, grad_out.dtype());
  dispatch(grad_out.dtype(), [&]<class T>() {
    const T* pg = grad_out.data<T>();
    const T* pw = weight.data<T>();
    T* pdx = dx.data<T>();
    std::vector<double> acc(g.H * g.W);
    for (int64_t n = 0; n < g.N; ++n) {
      for (int64_t c = 0; c < g.C; ++c) {
        std::fill(acc.begin(), acc.end(), 0.0);
        const int64_t group = g.group_of_input(c), cg = c - group * g.in_per_group;
        for (int64_t oc = group * g.out_per_group; oc < (group + 1) * g.out_per_group; ++oc) {
          const T* g_plane = pg + (n * g.O + oc) * g.OH * g.OW;
          const T* w_taps = pw + (oc * g.in_per_group + cg) * g.KH * g.KW;
          for_each_tap_row(g.h, g.w, [&](const TapRow& r) {
            const double wv = w_taps[r.kh * g.KW + r.kw];
            const T* g_row = g_plane + r.oh * g.OW;
            double* acc_row = acc.data() + r.ih * g.W + r.iw_begin;
            for (int64_t ow = r.ow_begin, i = 0; ow < r.ow_end; ++ow, i += g.w.stride)
              acc_row[i] += wv * g_row[ow];
          });
        }
        T* dx_plane = pdx + (n * g.C + c) * g.H * g.W;
        for (size_t i = 0; i < acc.size(); ++i) dx_plane[i] = static_cast<T>(acc[i]);
      }
    }
  });
  return dx;
}

// dweight[oc, cg, kh, kw] = sum over n and output positions of grad_out * the input that tap read.
Tensor conv2d_backward_weight_ref(const Tensor& grad_out_in, const Tensor& x_in, const Shape& weight_shape,
                              const Conv2dParams& p) {
  const Tensor grad_out = grad_out_in.contiguous(), x = x_in.contiguous();
  const ConvGeometry g(x.shape(), weight_shape, p);
  Tensor dw = Tensor::empty(weight_shape, x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    const T* pg = grad_out.data<T>();
    const T* px = x.data<T>();
    T* pdw = dw.data<T>();
    std::vector<double> acc(g.KH * g.KW);
    for (int64_t oc = 0; oc < g.O; ++oc) {
      const int64_t first_c = g.group_of_output(oc) * g.in_per_group;
      for (int64_t cg = 0; cg < g.in_per_group; ++cg) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t n = 0; n < g.N; ++n) {
          const T* g_plane = pg + (n * g.O + oc) * g.OH * g.OW;
          const T* x_plane = px + (n * g.C + first_c + cg) * g.H * g.W;
          for_each_tap_row(g.h, g.w, [&](const TapRow& r) {
            const T* g_row = g_plane + r.oh * g.OW;
            const T* x_row = x_plane + r.ih * g.W + r.iw_begin;
            double s = 0.0;
            for (int64_t ow = r.ow_begin, i = 0; ow < r.ow_end; ++ow, i += g.w.stride)
              s += static_cast<double>(g_row[ow]) * x_row[i];
            acc[r.kh * g.KW + r.kw] += s;
          });
        }
        T* dw_taps = pdw + (oc * g.in_per_group + cg) * g.KH * g.KW;
        for (size_t i = 0; i < acc.size(); ++i) dw_taps[i] = static_cast<T>(acc[i]);
      }
    }
  });
  return dw;
}

Tensor conv2d_backward_bias_ref(const Tensor& grad_out_in) {
  const Tensor grad_out = grad_out_in.contiguous();
  const int64_t N = grad_out.size(0), O = grad_out.size(1), plane = grad_out.size(2) * grad_out.size(3);
  Tensor db = Tensor::empty({O}, grad_out.dtype());
  dispatch(grad_out.dtype(), [&]<class T>() {
    const T* pg = grad_out.data<T>();
    T* pdb = db.data<T>();
    for (int64_t oc = 0; oc < O; ++oc) {
      double s = 0.0;
      for (int64_t n = 0; n < N; ++n) {
        const T* g_plane = pg + (n * O + oc) * plane;
        for (int64_t i = 0; i < plane; ++i) s += g_plane[i];
      }
      pdb[oc] = static_cast<T>(s);
    }
  });
  return db;
}

}  // namespace sn::kernels
