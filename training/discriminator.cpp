#include "training/discriminator.h"

#include <algorithm>
#include <sstream>

#include "layers/spectral_norm.h"
#include "tensor/error.h"

namespace sn {

namespace {

constexpr int64_t kKernel = 4;  // every conv is 4x4 with zero padding 1
constexpr double kSlope = 0.2;  // LeakyReLU

void check_config(const DiscriminatorConfig& c) {
  SN_CHECK(c.base >= 1, "Discriminator: base must be >= 1, got ", c.base);
  SN_CHECK(c.layers >= 1 && c.layers <= 16, "Discriminator: layers must be in [1, 16], got ", c.layers);
  SN_CHECK(c.scales >= 1 && c.scales <= 16, "Discriminator: scales must be in [1, 16], got ", c.scales);
}

// Output side of a 4x4 conv with padding 1 and the given stride; 0 when nothing fits.
int64_t conv_out(int64_t in, int64_t stride) {
  return in + 2 < kKernel ? 0 : (in + 2 - kKernel) / stride + 1;
}

const char* py_bool(bool b) { return b ? "True" : "False"; }

}  // namespace

// ---------------------------------------------------------------- PatchDiscriminator

PatchDiscriminator::PatchDiscriminator(const DiscriminatorConfig& config, Generator* gen)
    : Module("PatchDiscriminator"), config_(config) {
  check_config(config);
  auto conv = [&](int64_t in, int64_t out, int64_t stride) -> std::shared_ptr<Module> {
    Conv2dConfig cc;
    cc.stride = stride;
    cc.padding = 1;
    if (config.spectral_norm) return std::make_shared<SpectralNormConv2d>(in, out, kKernel, cc, gen);
    return std::make_shared<Conv2d>(in, out, kKernel, cc, gen);
  };
  auto channels = [&](int64_t k) { return config.base * (k >= 3 ? 8 : int64_t{1} << k); };  // base*min(2^k, 8)

  model = register_module("model", std::make_shared<Sequential>());
  model->push_back(conv(3, channels(0), 2));
  model->push_back(std::make_shared<LeakyReLU>(kSlope));
  for (int64_t k = 1; k <= config.layers; ++k) {
    // The last of these keeps the resolution (stride 1), as pix2pix's block after its loop.
    model->push_back(conv(channels(k - 1), channels(k), k < config.layers ? 2 : 1));
    model->push_back(std::make_shared<InstanceNorm2d>(channels(k)));
    model->push_back(std::make_shared<LeakyReLU>(kSlope));
  }
  model->push_back(conv(channels(config.layers), 1, 1));
}

int64_t PatchDiscriminator::receptive_field(int64_t layers) {
  SN_CHECK(layers >= 1, "PatchDiscriminator::receptive_field: layers must be >= 1, got ", layers);
  // Walk back from one output logit: through a conv of stride s, r output pixels need
  // (r - 1) * s + kernel input pixels. Convs from the last: stride 1, 1, then `layers` of stride 2.
  int64_t r = 1;
  for (int i = 0; i < 2; ++i) r = (r - 1) + kKernel;
  for (int64_t i = 0; i < layers; ++i) r = (r - 1) * 2 + kKernel;
  return r;
}

int64_t PatchDiscriminator::output_size(int64_t input_size, int64_t layers) {
  int64_t s = input_size;
  for (int64_t i = 0; i < layers; ++i) s = conv_out(s, 2);
  for (int i = 0; i < 2; ++i) s = conv_out(s, 1);
  return s;
}

int64_t PatchDiscriminator::min_input_size(int64_t layers) {
  int64_t s = 1;
  while (output_size(s, layers) < 1) ++s;
  return s;
}

Tensor PatchDiscriminator::forward(const Tensor& x) {
  SN_CHECK(x.defined() && x.dim() == 4 && x.size(1) == 3, "PatchDiscriminator: expected images [N, 3, H, W], got ",
           x.defined() ? shape_str(x.shape()) : "undefined");
  // An output of at least 1x1 also keeps every InstanceNorm's map at 2x2 or more (it would
  // otherwise normalise single pixels to 0, which PyTorch refuses in training).
  const int64_t need = min_input_size(config_.layers);
  SN_CHECK(x.size(2) >= need && x.size(3) >= need, "PatchDiscriminator(layers=", config_.layers,
           "): images must be at least ", need, "x", need, ", got ", shape_str(x.shape()));
  return model->forward(x);
}

std::string PatchDiscriminator::extra_repr() const {
  std::ostringstream os;
  os << "base=" << config_.base << ", layers=" << config_.layers << ", spectral_norm=" << py_bool(config_.spectral_norm);
  return os.str();
}

// ---------------------------------------------------------------- Discriminator

Discriminator::Discriminator(const DiscriminatorConfig& config, Generator* gen)
    : Module("Discriminator"), config_(config) {
  check_config(config);
  for (int64_t s = 0; s < config.scales; ++s) {
    std::string name = "d";  // appended, not "d" + ...: GCC 12 warns falsely (-Wrestrict) on that
    name += std::to_string(s);
    scales_.push_back(register_module(name, std::make_shared<PatchDiscriminator>(config, gen)));
  }
}

Tensor Discriminator::downsample(const Tensor& x) {
  Pool2dOptions opt;
  opt.kernel = {3, 3};
  opt.stride = {2, 2};
  opt.padding = {1, 1};
  opt.count_include_pad = false;  // border averages are over real pixels only: no dark rim
  return avg_pool2d(x, opt);
}

int64_t Discriminator::output_size(int64_t input_size, int64_t layers, int64_t scale) {
  int64_t s = input_size;
  for (int64_t i = 0; i < scale; ++i) s = (s + 1) / 2;  // the downsampler rounds up
  return PatchDiscriminator::output_size(s, layers);
}

Tensor Discriminator::to_signed(const Tensor& images) {
  SN_CHECK(images.defined() && images.dim() == 4 && images.size(1) == 3,
           "Discriminator: expected images [N, 3, H, W] in [0, 1], got ",
           images.defined() ? shape_str(images.shape()) : "undefined");
  return images * 2.0 - 1.0;  // [0, 1] -> [-1, 1]
}

std::vector<Tensor> Discriminator::forward_scales(const Tensor& images) {
  Tensor x = to_signed(images);
  const int64_t need = PatchDiscriminator::min_input_size(config_.layers);
  const int64_t h = images.size(2), w = images.size(3), last = config_.scales - 1;
  SN_CHECK(output_size(h, config_.layers, last) >= 1 && output_size(w, config_.layers, last) >= 1,
           "Discriminator(layers=", config_.layers, ", scales=", config_.scales, "): images of ", h, "x", w,
           " are too small: scale ", last, " needs at least ", need, "x", need, " after ", last, " halvings");
  std::vector<Tensor> out;
  for (int64_t s = 0; s < config_.scales; ++s) {
    if (s > 0) x = downsample(x);
    out.push_back(scales_[s]->forward(x));
  }
  return out;
}

Tensor Discriminator::forward(const Tensor& images) { return scales_[0]->forward(to_signed(images)); }

PatchDiscriminator& Discriminator::scale(int64_t s) const {
  SN_CHECK(s >= 0 && s < config_.scales, "Discriminator: scale ", s, " out of range [0, ", config_.scales, ")");
  return *scales_[s];
}

std::string Discriminator::extra_repr() const {
  std::ostringstream os;
  os << "base=" << config_.base << ", layers=" << config_.layers << ", spectral_norm=" << py_bool(config_.spectral_norm)
     << ", scales=" << config_.scales;
  return os.str();
}

}  // namespace sn
