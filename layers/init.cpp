#include "layers/init.h"

#include <cmath>

#include "autograd/grad_mode.h"

namespace sn::init {

namespace {
thread_local int skip_random_init = 0;

// Writes the values of `fresh` (same shape) into t's existing storage.
void assign(const Tensor& t, const Tensor& fresh) {
  NoGradGuard no_grad;
  Tensor handle = t;  // Tensor is a handle: writing through a copy writes t's storage
  handle.copy_from(fresh);
}

double fan(const Tensor& t, FanMode mode) {
  const auto [in, out] = fan_in_and_fan_out(t);
  const int64_t f = mode == FanMode::FanIn ? in : out;
  SN_CHECK(f > 0, "init: fan is 0 for a tensor of shape ", shape_str(t.shape()));
  return static_cast<double>(f);
}
}  // namespace

SkipRandomInit::SkipRandomInit() { ++skip_random_init; }
SkipRandomInit::~SkipRandomInit() { --skip_random_init; }

double calculate_gain(Nonlinearity nl, double param) {
  switch (nl) {
    case Nonlinearity::Linear:
    case Nonlinearity::Conv:
    case Nonlinearity::Sigmoid: return 1.0;
    case Nonlinearity::Tanh: return 5.0 / 3.0;
    case Nonlinearity::ReLU: return std::sqrt(2.0);
    case Nonlinearity::LeakyReLU: return std::sqrt(2.0 / (1.0 + param * param));
  }
  throw Error("calculate_gain: unknown nonlinearity");
}

std::pair<int64_t, int64_t> fan_in_and_fan_out(const Tensor& t) {
  SN_CHECK(t.dim() >= 2, "init: fan in and fan out need a tensor with at least 2 dims, got ",
           shape_str(t.shape()));
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

void uniform_(const Tensor& t, Generator& gen, double lo, double hi) {
  if (skip_random_init) return;
  assign(t, Tensor::rand(t.shape(), gen, lo, hi, t.dtype()));
}

void normal_(const Tensor& t, Generator& gen, double mean, double std) {
  if (skip_random_init) return;
  // mean + std * z in double, rounded once to t's dtype: drawn straight into t when it is
  // contiguous (the stand-in VGG16's 59 MB, with no float64 copy of them).
  const bool in_place = t.is_contiguous();
  const Tensor z = in_place ? t : Tensor::empty(t.shape(), t.dtype());
  dispatch(t.dtype(), [&]<class T>() { gen.fill_normal(z.data<T>(), z.numel(), mean, std); });
  if (in_place) t.mark_written();
  else assign(t, z);
}

void constant_(const Tensor& t, double value) {
  NoGradGuard no_grad;
  Tensor handle = t;
  handle.fill(value);
}
void zeros_(const Tensor& t) { constant_(t, 0.0); }
void ones_(const Tensor& t) { constant_(t, 1.0); }

void kaiming_uniform_(const Tensor& t, Generator& gen, double a, FanMode mode, Nonlinearity nl) {
  const double bound = calculate_gain(nl, a) * std::sqrt(3.0 / fan(t, mode));
  uniform_(t, gen, -bound, bound);
}

void kaiming_normal_(const Tensor& t, Generator& gen, double a, FanMode mode, Nonlinearity nl) {
  normal_(t, gen, 0.0, calculate_gain(nl, a) / std::sqrt(fan(t, mode)));
}

void xavier_uniform_(const Tensor& t, Generator& gen, double gain) {
  const auto [in, out] = fan_in_and_fan_out(t);
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(in + out));
  uniform_(t, gen, -bound, bound);
}

void xavier_normal_(const Tensor& t, Generator& gen, double gain) {
  const auto [in, out] = fan_in_and_fan_out(t);
  normal_(t, gen, 0.0, gain * std::sqrt(2.0 / static_cast<double>(in + out)));
}

void default_layer_init_(const Tensor& weight, const Tensor& bias, Generator& gen) {
  kaiming_uniform_(weight, gen, std::sqrt(5.0));
  if (!bias.defined()) return;
  const int64_t fan_in = fan_in_and_fan_out(weight).first;
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  uniform_(bias, gen, -bound, bound);
}

}  // namespace sn::init
