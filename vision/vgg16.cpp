#include "vision/vgg16.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <set>

#include "autograd/nn_ops.h"
#include "autograd/ops.h"
#include "layers/init.h"
#include "vision/image.h"
#include "weights/digest_cache.h"
#include "weights/weight_file.h"
#include "tensor/random.h"
#include "tensor/env.h"
#include "weights/sha256.h"

namespace sn {

namespace {

// One entry of torchvision's vgg16().features, in order (index = position in `features`).
struct Layer {
  enum class Kind { Conv, Relu, Pool } kind;
  std::string name;  // conv3_2, relu3_2, pool3
  int64_t in = 0, out = 0;  // channels, for convolutions
};

const std::vector<Layer>& feature_layers() {
  static const std::vector<Layer> layers = [] {
    // Configuration "D" of the paper: five blocks of 3x3 convolutions, each ending in a max pool.
    const int64_t convs[] = {2, 2, 3, 3, 3}, widths[] = {64, 128, 256, 512, 512};
    std::vector<Layer> l;
    int64_t channels = 3;
    for (int block = 0; block < 5; ++block) {
      for (int64_t c = 1; c <= convs[block]; ++c) {
        const std::string id = std::to_string(block + 1) + "_" + std::to_string(c);
        l.push_back({Layer::Kind::Conv, "conv" + id, channels, widths[block]});
        l.push_back({Layer::Kind::Relu, "relu" + id});
        channels = widths[block];
      }
      l.push_back({Layer::Kind::Pool, "pool" + std::to_string(block + 1)});
    }
    return l;
  }();
  return layers;
}

// classifier.{0,3,6}: Linear 25088 -> 4096 -> 4096 -> 1000 with ReLU and Dropout between.
struct Linear {
  int index;
  int64_t in, out;
};
constexpr Linear kClassifier[] = {{0, 512 * 7 * 7, 4096}, {3, 4096, 4096}, {6, 4096, 1000}};

std::string conv_key(size_t index, const char* what) { return "features." + std::to_string(index) + "." + what; }
std::string linear_key(int index, const char* what) { return "classifier." + std::to_string(index) + "." + what; }

// Every tensor a torchvision VGG16 state_dict holds, with its shape, in state_dict order.
std::vector<std::pair<std::string, Shape>> expected_tensors(VggParts parts) {
  std::vector<std::pair<std::string, Shape>> out;
  const auto& layers = feature_layers();
  for (size_t i = 0; i < layers.size(); ++i) {
    if (layers[i].kind != Layer::Kind::Conv) continue;
    out.emplace_back(conv_key(i, "weight"), Shape{layers[i].out, layers[i].in, 3, 3});
    out.emplace_back(conv_key(i, "bias"), Shape{layers[i].out});
  }
  if (parts == VggParts::Full)
    for (const Linear& l : kClassifier) {
      out.emplace_back(linear_key(l.index, "weight"), Shape{l.out, l.in});
      out.emplace_back(linear_key(l.index, "bias"), Shape{l.out});
    }
  return out;
}

bool is_feature_key(const std::string& key) { return key.rfind("features.", 0) == 0; }

}  // namespace

std::string VggIdentity::str() const {
  return standin ? "vgg16:standin:seed=" + std::to_string(seed) + ":sha256:" + features_sha256
                 : "vgg16:sha256:" + features_sha256;
}

const std::vector<std::string>& Vgg16::tap_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const Layer& l : feature_layers()) n.push_back(l.name);
    return n;
  }();
  return names;
}

size_t Vgg16::tap_index(const std::string& tap) {
  const auto& names = tap_names();
  const auto it = std::find(names.begin(), names.end(), tap);
  if (it == names.end()) {
    std::string all;
    for (const auto& n : names) all += (all.empty() ? "" : " ") + n;
    throw Error("vgg16: unknown layer '" + tap + "' (layers: " + all + ")");
  }
  return static_cast<size_t>(it - names.begin());
}

VggParts Vgg16::check_state_dict(const TensorDict& sd, const std::string& source) {
  const bool has_classifier = std::any_of(sd.begin(), sd.end(), [](const auto& kv) { return !is_feature_key(kv.first); });
  const VggParts parts = has_classifier ? VggParts::Full : VggParts::Features;
  const auto expected = expected_tensors(parts);
  std::set<std::string> known;
  for (const auto& [key, shape] : expected) {
    known.insert(key);
    const Tensor* t = sd.find(key);
    SN_CHECK(t, source, ": not a torchvision VGG16 state_dict: no '", key, "'");
    SN_CHECK(t->shape() == shape, source, ": not a torchvision VGG16 state_dict: '", key, "' has shape ",
             shape_str(t->shape()), ", expected ", shape_str(shape));
  }
  for (const auto& kv : sd)
    SN_CHECK(known.count(kv.first), source, ": not a torchvision VGG16 state_dict: unexpected tensor '", kv.first, "'");
  return parts;
}

std::string Vgg16::features_sha256(const TensorDict& sd) {
  Sha256 h;
  for (const auto& [key, shape] : expected_tensors(VggParts::Features)) {
    const Tensor t = sd.at(key).to(DType::Float32).contiguous();
    h.update(key.c_str(), key.size() + 1);  // with its NUL, so "a"+"bc" differs from "ab"+"c"
    for (int64_t d : t.shape()) h.update(&d, sizeof d);  // little-endian host (see weights/pth.cpp)
    h.update(t.raw_data(), static_cast<size_t>(t.numel()) * sizeof(float));
  }
  return h.finish_hex();
}

// The weights a Vgg16 runs on. For the stand-in, `undrawn` lists the tensors not drawn yet, in
// draw order, and `gen` is positioned at the first of them; a pass draws through its last layer.
struct Vgg16::Params {
  VggIdentity identity;  // features_sha256 filled by the first identity() call when empty
  std::optional<FileDigest> file_digest;  // where the weights came from a file: its digest kept there
  std::once_flag hashed;
  std::mutex mu;
  TensorDict dict;
  std::map<std::pair<int, std::string>, Tensor> on_device;  // GPU copies of dict's tensors, by device index
  std::vector<std::pair<std::string, Shape>> undrawn;
  size_t next = 0;
  Generator gen;

  // Draws up to and including `key` (everything when `key` is empty). Caller holds mu.
  void draw_through(const std::string& key) {
    while (next < undrawn.size() && (key.empty() || !dict.find(key))) {
      const auto& [k, shape] = undrawn[next++];
      // torchvision's VGG._initialize_weights, in module order; biases take no draws.
      const bool weight = k.ends_with(".weight");
      Tensor t = weight ? Tensor::empty(shape) : Tensor::zeros(shape);  // weights: every element drawn
      if (weight && is_feature_key(k))
        init::kaiming_normal_(t, gen, 0.0, init::FanMode::FanOut, init::Nonlinearity::ReLU);
      else if (weight)
        init::normal_(t, gen, 0.0, 0.01);
      dict.insert(k, t);
    }
  }
};

Vgg16::Vgg16(std::shared_ptr<Params> params, VggParts parts, VggIdentity identity)
    : params_(std::move(params)), parts_(parts) {
  params_->identity = std::move(identity);
  mean_ = Tensor::from_vector<float>({0.485f, 0.456f, 0.406f}, {1, 3, 1, 1});
  std_ = Tensor::from_vector<float>({0.229f, 0.224f, 0.225f}, {1, 3, 1, 1});
}

Vgg16::Vgg16(const TensorDict& state_dict, VggParts parts, VggIdentity identity)
    : Vgg16([&] {
        const VggParts held = check_state_dict(state_dict, identity.source);
        SN_CHECK(parts == VggParts::Features || held == VggParts::Full, identity.source,
                 ": these VGG16 weights have no classifier (features only); classification needs the full model");
        auto params = std::make_shared<Params>();
        for (const auto& [key, shape] : expected_tensors(parts))
          params->dict.insert(key, state_dict.at(key).to(DType::Float32).contiguous().detach());
        return params;
      }(),
            parts, identity) {}

const VggIdentity& Vgg16::identity() const {
  std::call_once(params_->hashed, [&] {
    if (!params_->identity.features_sha256.empty()) return;
    params_->identity.features_sha256 = features_sha256(state_dict());
    if (params_->file_digest) params_->file_digest->remember(params_->identity.features_sha256);
  });
  return params_->identity;
}

const TensorDict& Vgg16::state_dict() const {
  std::lock_guard<std::mutex> lock(params_->mu);
  params_->draw_through("");
  return params_->dict;  // complete, so never changed again
}

Tensor Vgg16::param(const std::string& key, Device device) const {
  std::lock_guard<std::mutex> lock(params_->mu);
  params_->draw_through(key);
  const Tensor& host = params_->dict.at(key);
  if (device == Device{}) return host;
  // One copy per device, made on first use: a forward pass must not re-upload 59 MB of weights.
  Tensor& copy = params_->on_device[{device.index, key}];
  if (!copy.defined()) copy = host.to(device);
  return copy;
}

Vgg16 Vgg16::from_file(const std::filesystem::path& path, VggParts parts) {
  // The file's version before it is read: its features' digest is hashed once per version of the
  // file (weights/digest_cache.h), not on every run.
  FileDigest digest(path, "vgg16 features_sha256 v1");
  WeightFile file = read_weight_file(path, parts == VggParts::Features ? is_feature_key : nullptr);
  VggIdentity id;
  id.source = path.string();
  id.features_sha256 = digest.remembered().value_or("");
  Vgg16 vgg(file.tensors, parts, id);
  vgg.params_->file_digest = std::move(digest);
  return vgg;
}

Vgg16 Vgg16::standin(VggParts parts, uint64_t seed) {
  auto params = std::make_shared<Params>();
  params->undrawn = expected_tensors(parts);
  params->gen = Generator(seed);
  VggIdentity id;
  id.standin = true;
  id.seed = seed;
  id.source = "stand-in";
  if (seed == kStandinSeed) id.features_sha256 = kStandinFeaturesSha256;  // else hashed (all drawn) when built
  return Vgg16(std::move(params), parts, id);
}

std::filesystem::path default_weights_path() {
  const std::filesystem::path dir = user_cache_dir();
  return (dir.empty() ? std::filesystem::path(".") / ".cache" / "stylenet" : dir) / "vgg16.safetensors";
}

Vgg16 Vgg16::load(const std::string& weights, VggParts parts) {
  if (!weights.empty()) return from_file(weights, parts);
  const char* chosen = env_value("STYLENET_WEIGHTS");
  if (chosen && std::string(chosen) != "standin") {
    // An explicit choice that is missing is an error, never a silent switch to the stand-in.
    SN_CHECK(std::filesystem::exists(chosen), "STYLENET_WEIGHTS names '", chosen, "', which does not exist");
    return from_file(chosen, parts);
  }
  const std::filesystem::path cached = default_weights_path();
  if (!chosen && std::filesystem::exists(cached)) return from_file(cached, parts);
  Vgg16 model = standin(parts);
  if (chosen)
    std::fprintf(stderr, "stylenet: STYLENET_WEIGHTS=standin: using the deterministic stand-in VGG16 (seed %llu)\n",
                 static_cast<unsigned long long>(model.identity().seed));
  else
    std::fprintf(stderr,
                 "stylenet: no pretrained VGG16 at %s: using the deterministic stand-in (seed %llu); "
                 "'stylenet fetch-weights' gets the real weights, which give better results\n",
                 cached.c_str(), static_cast<unsigned long long>(model.identity().seed));
  return model;
}

std::map<std::string, Tensor> Vgg16::features(const Tensor& image, const std::vector<std::string>& taps) const {
  SN_CHECK(!taps.empty(), "vgg16: no layers requested");
  size_t last = 0;
  for (const std::string& tap : taps) last = std::max(last, tap_index(tap));
  std::map<std::string, Tensor> out;
  run_features(image, last, taps, &out);
  return out;
}

Tensor Vgg16::classify(const Tensor& image) const {
  SN_CHECK(has_classifier(), "vgg16: classify needs the classifier; load the model with VggParts::Full");
  Tensor x = run_features(image, feature_layers().size() - 1, {}, nullptr);
  SN_CHECK(x.size(2) == 7 && x.size(3) == 7, "vgg16: classify needs ", kClassifierInput, "x", kClassifierInput,
           " images (a 7x7 final map), got ", image.size(2), "x", image.size(3));
  x = flatten(x, 1);
  for (const Linear& l : kClassifier) {
    x = linear(x, param(linear_key(l.index, "weight")).to(x.dtype()), param(linear_key(l.index, "bias")).to(x.dtype()));
    if (l.index != kClassifier[2].index) x = relu(x);  // Dropout is the identity in eval mode
  }
  return x;
}

Tensor Vgg16::eval_crop(const Tensor& image) {
  const int64_t side = kClassifierInput;
  const Tensor resized = resize_short_side(image, 256);
  const int64_t top = (resized.size(2) - side) / 2, left = (resized.size(3) - side) / 2;
  return slice(slice(resized, 2, top, top + side), 3, left, left + side).contiguous();
}

Tensor Vgg16::run_features(const Tensor& image, size_t last_layer, const std::vector<std::string>& taps,
                           std::map<std::string, Tensor>* out) const {
  SN_CHECK(image.defined() && image.dim() == 4 && image.size(1) == 3 &&
               (image.dtype() == DType::Float32 || image.dtype() == DType::Float64),
           "vgg16: expects float32 (or float64) RGB images [N, 3, H, W], got ",
           image.defined() ? dtype_name(image.dtype()) : "undefined", " ",
           image.defined() ? shape_str(image.shape()) : "");
  const auto& layers = feature_layers();
  int64_t pools = 0;
  for (size_t i = 0; i <= last_layer; ++i) pools += layers[i].kind == Layer::Kind::Pool;
  const int64_t min_side = int64_t{1} << pools;  // each pool halves the map (rounding down)
  SN_CHECK(image.size(2) >= min_side && image.size(3) >= min_side, "vgg16: a ", image.size(2), "x", image.size(3),
           " image is too small for layer ", layers[last_layer].name, " (needs at least ", min_side, "x", min_side, ")");

  Conv2dOptions same;
  same.padding = {1, 1};
  Pool2dOptions halve;  // kernel 2, stride 2
  // Float64 runs on widened copies of the weights (to() is free for float32): the tests use it
  // to check gradients where float32 rounding can put a pre-activation on either side of a ReLU.
  const DType dt = image.dtype();
  const Device device = image.device();
  Tensor x = (image - mean_.to(dt).to(device)) / std_.to(dt).to(device);
  const auto wanted = [&](size_t i) {
    return out && std::find(taps.begin(), taps.end(), layers[i].name) != taps.end();
  };
  for (size_t i = 0; i <= last_layer; ++i) {
    switch (layers[i].kind) {
      case Layer::Kind::Conv: {
        const Tensor w = param(conv_key(i, "weight"), device).to(dt), b = param(conv_key(i, "bias"), device).to(dt);
        // A conv and the ReLU after it run as one op (no separate ReLU pass, no pre-activation
        // tensor kept for backward) unless the conv's own output is a requested tap; with the pool
        // after them too (the end of a block) where neither output is a tap (for inference the
        // convolution then pools its output as it makes it: conv2d_relu_pool).
        const bool relu_next = i + 1 <= last_layer && layers[i + 1].kind == Layer::Kind::Relu && !wanted(i);
        if (relu_next && i + 2 <= last_layer && layers[i + 2].kind == Layer::Kind::Pool && !wanted(i + 1)) {
          x = conv2d_relu_pool(x, w, b, same);
          i += 2;  // x is now layer i + 2's output, recorded below under its name
        } else if (relu_next) {
          x = conv2d_relu(x, w, b, same);
          ++i;  // the ReLU is done: x is now layer i + 1's output, recorded below under its name
        } else {
          x = conv2d(x, w, b, same);
        }
        break;
      }
      case Layer::Kind::Relu: x = relu(x); break;
      case Layer::Kind::Pool: x = max_pool2d(x, halve); break;
    }
    if (wanted(i)) (*out)[layers[i].name] = x;
  }
  return x;
}

}  // namespace sn
