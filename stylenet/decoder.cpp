#include "stylenet/decoder.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "tensor/error.h"

namespace sn {

namespace {

// The VGG16 encoder's steps from the image up to the tap: (in, out) of each conv, {0, 0} for a
// max-pool. Blocks are (64, 64), (128, 128), (256, 256, 256), (512, 512, 512), ...
std::vector<std::pair<int64_t, int64_t>> encoder_steps(const std::string& tap) {
  static const std::vector<std::pair<int64_t, int64_t>> to_relu4_1 = {
      {3, 64}, {64, 64}, {0, 0}, {64, 128}, {128, 128}, {0, 0}, {128, 256}, {256, 256}, {256, 256}, {0, 0}, {256, 512}};
  const std::vector<std::string>& taps = decoder_taps();
  const auto it = std::find(taps.begin(), taps.end(), tap);
  SN_CHECK(it != taps.end(), "Decoder: unsupported tap '", tap, "' (choose relu1_1, relu2_1, relu3_1 or relu4_1)");
  // relu<k>_1 is the first conv after the (k-1)-th pool.
  const int64_t pools = it - taps.begin();
  auto end = to_relu4_1.begin();
  for (int64_t seen = 0; seen < pools; ++end)
    if (end->first == 0) ++seen;
  return {to_relu4_1.begin(), end + 1};
}

}  // namespace

const std::vector<std::string>& decoder_taps() {
  static const std::vector<std::string> taps = {"relu1_1", "relu2_1", "relu3_1", "relu4_1"};
  return taps;
}

int64_t Decoder::tap_channels(const std::string& tap) { return encoder_steps(tap).back().second; }

int64_t Decoder::tap_downsampling(const std::string& tap) {
  const auto s = encoder_steps(tap);
  return int64_t{1} << std::count(s.begin(), s.end(), std::pair<int64_t, int64_t>{0, 0});
}

int64_t Decoder::scale() const { return tap_downsampling(config_.tap); }

std::vector<std::pair<int64_t, int64_t>> Decoder::plan(const DecoderConfig& config) {
  SN_CHECK(config.width > 0 && std::isfinite(config.width), "Decoder: width must be positive, got ",
           config.width);
  const auto enc = encoder_steps(config.tap);
  auto scaled = [&](int64_t ch) {
    return std::max<int64_t>(1, std::llround(static_cast<double>(ch) * config.width));
  };
  // Each encoder step reversed: conv(a -> b) becomes conv(b -> a), a pool an upsampling. Then the
  // hidden widths scale: every count except the first conv's input (the tap's channels, fixed by
  // the encoder) and the last conv's output (RGB).
  std::vector<std::pair<int64_t, int64_t>> out;
  for (auto it = enc.rbegin(); it != enc.rend(); ++it) {
    if (it->first == 0) {
      out.push_back({0, 0});
      continue;
    }
    out.push_back({it->second, it->first});
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i].first == 0) continue;
    if (i != 0) out[i].first = scaled(out[i].first);
    if (i + 1 != out.size()) out[i].second = scaled(out[i].second);
  }
  return out;
}

Decoder::Decoder(const DecoderConfig& config, Generator* gen)
    : Module("Decoder"), config_(config), in_channels_(tap_channels(config.tap)) {
  const auto steps = plan(config);
  net = register_module("net", std::make_shared<Sequential>());
  for (size_t i = 0; i < steps.size(); ++i) {
    const auto [in, out] = steps[i];
    if (in == 0) {
      net->push_back(Upsample::scale(2, UpsampleMode::Nearest));
      continue;
    }
    net->push_back(std::make_shared<ReflectionPad2d>(1));
    net->push_back(std::make_shared<Conv2d>(in, out, 3, Conv2dConfig{}, gen));
    if (i + 1 < steps.size()) net->push_back(std::make_shared<ReLU>());
  }
}

Tensor Decoder::forward(const Tensor& features) {
  SN_CHECK(features.defined() && features.dim() == 4 && features.size(1) == in_channels_,
           "Decoder(", config_.tap, "): expected features [N, ", in_channels_, ", h, w]");
  return net->forward(features);
}

std::string Decoder::extra_repr() const {
  std::ostringstream os;
  os << "tap=" << config_.tap << ", width=" << config_.width;
  return os.str();
}

}  // namespace sn
