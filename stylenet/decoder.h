// The decoder of arbitrary style transfer: turns (fused) VGG16 features back into an image. It
// mirrors the VGG16 encoder (vision/vgg16.h) from the chosen tap down to RGB, as AdaIN's and
// LST's decoders mirror VGG19: each encoder conv becomes a 3x3 conv in reverse (out -> in
// channels), each max-pool a nearest x2 upsampling. Every conv is preceded by reflection padding 1
// (no dark borders) and followed by ReLU, except the last one (to 3 channels), whose output is
// left unbounded: callers clamp to [0, 1] to display. No normalisation layers.
//
//   relu4_1 (512 ch, 1/8 res):  512>256, up, 256>256, 256>256, 256>128, up, 128>128, 128>64, up,
//                               64>64, 64>3
//   relu3_1 (256 ch, 1/4 res):  256>128, up, 128>128, 128>64, up, 64>64, 64>3
//   relu2_1 (128 ch, 1/2 res):  128>64, up, 64>64, 64>3
//   relu1_1 (64 ch, full res):  64>3
//
// `width` multiplies every hidden channel count (rounded, at least 1; the input channels stay the
// tap's and the output 3), e.g. 0.5 for a decoder four times cheaper to train on a CPU.
//
// Layout: one Sequential registered as "net", so state_dict keys are net.<i>.weight / net.<i>.bias
// with i the position in the list above counting pads, convs, ReLUs and upsamplings (as the same
// torch.nn.Sequential would name them).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "layers/layers.h"

namespace sn {

// The taps a decoder can start from, deepest last: relu1_1, relu2_1, relu3_1, relu4_1.
const std::vector<std::string>& decoder_taps();

struct DecoderConfig {
  std::string tap = "relu4_1";  // one of decoder_taps()
  double width = 1.0;           // hidden channel multiplier, > 0
};

class Decoder : public Module {
 public:
  explicit Decoder(const DecoderConfig& config = {}, Generator* gen = nullptr);

  // Features [N, c, h, w] (c = input_channels()) -> image [N, 3, h * s, w * s], s = scale().
  Tensor forward(const Tensor& features) override;
  std::string extra_repr() const override;

  const DecoderConfig& config() const { return config_; }
  int64_t input_channels() const { return in_channels_; }
  // How much the decoder upsamples: 1 from relu1_1, 2, 4, 8 from relu4_1.
  int64_t scale() const;

  // Channels and resolution of a supported tap; throws naming the supported ones otherwise.
  static int64_t tap_channels(const std::string& tap);
  static int64_t tap_downsampling(const std::string& tap);
  // The (in, out) channels of each conv in order, width applied; an entry {0, 0} marks an
  // upsampling. What the PyTorch twin (tests/style/gen_style.py) rebuilds.
  static std::vector<std::pair<int64_t, int64_t>> plan(const DecoderConfig& config);

  std::shared_ptr<Sequential> net;

 private:
  DecoderConfig config_;
  int64_t in_channels_;
};

}  // namespace sn
