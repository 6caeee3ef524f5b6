// VGG16 (Simonyan & Zisserman 2014) exactly as torchvision builds it, as the fixed encoder whose
// activations style transfer compares.
//
// Layers are named by block and position: conv1_1, relu1_1, conv1_2, relu1_2, pool1, ... conv5_3,
// relu5_3, pool5 — 31 taps, torchvision's `features` indices 0 to 30. features() returns any set
// of taps from one pass, stopping after the deepest one asked for. The model normalises its input
// itself (torchvision's ImageNet mean and std), so callers pass plain RGB images in [0, 1]; the
// ops are the differentiable ones of autograd/nn_ops.h, so gradients reach the input image. The
// weights never require grad.
//
// Weights come from a torchvision state_dict — a .pth (legacy or zip) or our safetensors — or,
// when none is available, from a deterministic stand-in: torchvision's initialisation drawn from
// a seeded sn::Generator, the same bytes on every machine. identity() tells them apart, so models
// trained on top of an encoder can record which one. The stand-in draws a layer's weights when a
// pass first reaches it (the draws stay in torchvision's order), so a program that runs only the
// first layers (stylize at relu3_1: 4 % of the weights) does not pay for all 14.7 M draws.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor_dict.h"

namespace sn {

// Which part of VGG16 to hold: the convolutional `features` (all style transfer needs, 58 MB), or
// those plus the 470 MB `classifier` that predicts ImageNet classes.
enum class VggParts { Features, Full };

// Which weights a Vgg16 runs on.
struct VggIdentity {
  bool standin = false;
  uint64_t seed = 0;           // the stand-in's seed
  std::string features_sha256;  // of the feature weights' canonical bytes (see Vgg16::features_sha256)
  std::string source;           // the file the weights came from, or "stand-in"

  // "vgg16:sha256:<hex>" or "vgg16:standin:seed=<n>:sha256:<hex>": what a checkpoint records.
  std::string str() const;
};

class Vgg16 {
 public:
  static constexpr uint64_t kStandinSeed = 20140904;  // arXiv:1409.1556 was submitted 4 Sep 2014
  // The digest of that stand-in's features, pinned so that a run does not hash 59 MB to name its
  // encoder; test_vgg hashes the drawn weights and requires this value.
  static constexpr const char* kStandinFeaturesSha256 = "bf4a07555b2117302ed2fff901fd4898d0f4f1c702ab469adb1acf908579e509";
  static constexpr int64_t kClassifierInput = 224;    // classify() needs the 7x7 map this gives

  // A torchvision VGG16 state_dict (keys features.N.weight/bias, classifier.N.weight/bias). Keys
  // and shapes are checked strictly; the classifier may be absent when `parts` is Features.
  Vgg16(const TensorDict& state_dict, VggParts parts, VggIdentity identity);

  // Reads a .pth (legacy or zip) or .safetensors file. With Features, the classifier is not read.
  static Vgg16 from_file(const std::filesystem::path& path, VggParts parts = VggParts::Features);
  // The seeded stand-in: kaiming_normal_(fan_out, relu) for convolutions, normal(0, 0.01) for
  // linear weights, zero biases, drawn in torchvision's parameter order.
  static Vgg16 standin(VggParts parts = VggParts::Features, uint64_t seed = kStandinSeed);
  // `weights` if not empty, else the default rule (default_weights_path()); the stand-in when no
  // file is found, announced on stderr.
  static Vgg16 load(const std::string& weights = "", VggParts parts = VggParts::Features);

  // The requested taps for images [N, 3, H, W] (float32 RGB in [0, 1]; float64 also runs, on
  // widened weights, for checks that need it), computed on the image's device.
  std::map<std::string, Tensor> features(const Tensor& image, const std::vector<std::string>& taps) const;
  // ImageNet logits [N, 1000] for 224x224 images (torchvision's eval crop); needs the classifier.
  Tensor classify(const Tensor& image) const;
  // torchvision's evaluation transform without the normalisation (which the model does): the
  // shorter side resized to 256, then the central 224x224.
  static Tensor eval_crop(const Tensor& image);

  bool has_classifier() const { return parts_ == VggParts::Full; }
  // The weights' digest is computed on first use (hashing 59 MB costs ~0.15 s; `features` and
  // `classify` never need it); the stand-in's is pinned.
  const VggIdentity& identity() const;
  // torchvision's keys and layouts (weights OIHW and [out, in]), float32.
  // (The stand-in draws what was not drawn yet first.)
  const TensorDict& state_dict() const;

  // The 31 tap names in network order.
  static const std::vector<std::string>& tap_names();
  // The position of `tap` in tap_names(); throws sn::Error listing the valid names when unknown.
  static size_t tap_index(const std::string& tap);
  // SHA-256 over the feature weights in torchvision's order: for each, its key, a NUL, its shape
  // as little-endian int64s, then its float32 values little-endian. The same weights give the
  // same digest whatever file they came from.
  static std::string features_sha256(const TensorDict& state_dict);
  // What a state_dict holds: VggParts::Full or Features if it is exactly a torchvision VGG16's
  // (keys and shapes), throws sn::Error saying what differs otherwise.
  static VggParts check_state_dict(const TensorDict& state_dict, const std::string& source);

 private:
  Tensor run_features(const Tensor& image, size_t last_layer, const std::vector<std::string>& taps,
                      std::map<std::string, Tensor>* out) const;

  struct Params;  // the weights; shared by copies, since the stand-in's are drawn on first use
  Vgg16(std::shared_ptr<Params> params, VggParts parts, VggIdentity identity);
  // The weight `key` on `device` (the host tensor itself on the CPU).
  Tensor param(const std::string& key, Device device = {}) const;

  std::shared_ptr<Params> params_;
  VggParts parts_;
  Tensor mean_, std_;
};

// Where the pretrained weights are looked for, in order:
//   1. $STYLENET_WEIGHTS: a weight file, or the word "standin" to force the stand-in;
//   2. $XDG_CACHE_HOME/stylenet/vgg16.safetensors (XDG_CACHE_HOME defaults to ~/.cache), which
//      `stylenet fetch-weights` writes.
// Returns the cache path of rule 2 whether or not the file exists.
std::filesystem::path default_weights_path();

}  // namespace sn
