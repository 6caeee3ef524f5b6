#include "layers/pooling.h"

namespace sn {

namespace {
Pool2dOptions make_options(Size2 kernel, const PoolConfig& c, const char* layer) {
  SN_CHECK(kernel.h > 0 && kernel.w > 0, layer, ": kernel size must be positive, got ", kernel.str());
  Pool2dOptions o;
  o.kernel = kernel.array();
  o.stride = (c.stride == Size2(0) ? kernel : c.stride).array();
  o.padding = c.padding.array();
  o.ceil_mode = c.ceil_mode;
  o.count_include_pad = c.count_include_pad;
  return o;
}

std::string pool_repr(const Pool2dOptions& o) {
  return "kernel_size=" + Size2(o.kernel[0], o.kernel[1]).str() + ", stride=" + Size2(o.stride[0], o.stride[1]).str() +
         ", padding=" + Size2(o.padding[0], o.padding[1]).str() + (o.ceil_mode ? ", ceil_mode=True" : "");
}
}  // namespace

MaxPool2d::MaxPool2d(Size2 kernel_size, const PoolConfig& config)
    : Module("MaxPool2d"), options_(make_options(kernel_size, config, "MaxPool2d")) {}

std::string MaxPool2d::extra_repr() const { return pool_repr(options_); }

AvgPool2d::AvgPool2d(Size2 kernel_size, const PoolConfig& config)
    : Module("AvgPool2d"), options_(make_options(kernel_size, config, "AvgPool2d")) {}

std::string AvgPool2d::extra_repr() const {
  return pool_repr(options_) + (options_.count_include_pad ? "" : ", count_include_pad=False");
}

Upsample::Upsample(UpsampleMode mode, Size2 value, bool is_scale)
    : Module("Upsample"), mode_(mode), value_(value), is_scale_(is_scale) {
  SN_CHECK(value.h > 0 && value.w > 0, "Upsample: ", is_scale ? "scale factor" : "size", " must be positive, got ",
           value.str());
}

std::shared_ptr<Upsample> Upsample::scale(Size2 factor, UpsampleMode mode) {
  return std::shared_ptr<Upsample>(new Upsample(mode, factor, true));
}

std::shared_ptr<Upsample> Upsample::size(Size2 out_size, UpsampleMode mode) {
  return std::shared_ptr<Upsample>(new Upsample(mode, out_size, false));
}

Tensor Upsample::forward(const Tensor& x) {
  SN_CHECK(x.dim() == 4, "Upsample: expected an NCHW tensor, got shape ", shape_str(x.shape()));
  const int64_t h = x.size(2), w = x.size(3);
  // With an integer scale, PyTorch's source coordinate (dst + 0.5) / scale - 0.5 is the same as
  // resizing to (h * scale, w * scale), so both modes reduce to the size-based kernels.
  const Size2 out = is_scale_ ? Size2(h * value_.h, w * value_.w) : value_;
  if (mode_ == UpsampleMode::Bilinear) return upsample_bilinear2d(x, out.h, out.w);
  SN_CHECK(out.h % h == 0 && out.w % w == 0, "Upsample: nearest mode needs an integer scale, but ",
           Size2(h, w).str(), " does not divide into ", out.str());
  return upsample_nearest2d(x, out.h / h, out.w / w);
}

std::string Upsample::extra_repr() const {
  return std::string(is_scale_ ? "scale_factor=" : "size=") + value_.str() +
         ", mode=" + (mode_ == UpsampleMode::Nearest ? "'nearest'" : "'bilinear'");
}

}  // namespace sn
