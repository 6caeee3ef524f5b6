// VGG16 against PyTorch: torchvision state_dicts that Debian's PyTorch wrote (seeded, 528 MB, in
// the legacy container of the official vgg16-397923af.pth and in the zip one) load with their
// exact values; every tap on real images, the gradient of a style-transfer feature loss with
// respect to the input, and the classifier's logits and top-5 match PyTorch's; loading holds one
// copy of the selected weights (a features-only load never materialises the classifier); and the
// stand-in's weights hash to a pinned digest in every build type.
//
// Files: tests/vgg/gen_vgg.py, run by ctest as the fixture vgg_golden. STYLENET_VGG_REPORT=1
// prints each comparison's error.
//
// Tolerance: relative error max|got - want| / max|want| <= 1e-4 per tap and for the logits. Both
// sides sum up to 4608 float32 products per output in different orders; through 13 layers that
// leaves ~1e-6 relative, so 1e-4 still catches any wrong weight, layout or op. The gradient is
// checked in float64 against PyTorch's float64 (1e-9), and in float32 as its test case explains.
#include <doctest/doctest.h>

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <numeric>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/nn_ops.h"
#include "autograd/ops.h"
#include "vision/vgg16.h"
#include "vision/vgg16_convert.h"
#include "weights/weight_file.h"
#include "tests/env_scope.h"
#include "tests/temp_dir.h"
#include "tests/vgg/vgg_test_util.h"
#include "weights/atomic_file.h"
#include "weights/npy.h"
#include "weights/pth.h"
#include "weights/sha256.h"
#include "tensor/random.h"
#include "tests/tensor_compare.h"

using namespace sn;
using namespace sn::test;
namespace fs = std::filesystem;

namespace {

constexpr double kTolerance = 1e-4;

bool report() { return std::getenv("STYLENET_VGG_REPORT") != nullptr; }

// Resident memory now and its peak, in bytes, from /proc/self/status.
size_t proc_status_kb(const char* field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::stoull(line.substr(key.size())) * 1024;
  return 0;
}

// The peak resident memory that `fn` adds to what the process holds when it starts. Writing 5 to
// /proc/self/clear_refs resets the peak (VmHWM) to the current resident size (Linux 4.0+).
template <class F>
double peak_mb_during(F&& fn) {
  {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
    REQUIRE_MESSAGE(clear.good(), "cannot reset VmHWM through /proc/self/clear_refs");
  }
  const size_t before = proc_status_kb("VmRSS");
  REQUIRE(proc_status_kb("VmHWM") <= before + (1 << 20));  // the reset took effect
  fn();
  return static_cast<double>(proc_status_kb("VmHWM") - before) / 1e6;
}

std::vector<int64_t> top_k(const Tensor& logits, size_t k) {
  const std::vector<float> v = logits.to_vector<float>();
  std::vector<int64_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return v[a] > v[b]; });
  order.resize(k);
  return order;
}

Tensor gram(const Tensor& f) {
  const int64_t c = f.size(1), hw = f.size(2) * f.size(3);
  const Tensor m = reshape(f, {c, hw});
  return matmul(m, transpose(m, 0, 1)) / static_cast<double>(c * hw);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("vgg16: state_dicts PyTorch wrote load with exact values from both containers") {
  const fs::path dir = vgg_dir();
  const PthContents legacy = load_pth(dir / "vgg16_legacy.pth");
  CHECK(legacy.container == "legacy");
  CHECK(Vgg16::check_state_dict(legacy.tensors, "legacy") == VggParts::Full);
  int64_t params = 0;
  for (const auto& [key, t] : legacy.tensors) params += t.numel();
  CHECK(params == 138357544);  // torchvision's VGG16
  for (const char* key : {"features.0.weight", "features.28.bias", "classifier.6.bias"})
    CHECK(legacy.tensors.at(key).to_vector<float>() == load_npy(dir / "weights" / (std::string(key) + ".npy")).to_vector<float>());
  const Tensor rows = slice(legacy.tensors.at("classifier.0.weight"), 0, 0, 4096, 1000);
  CHECK(rows.to_vector<float>() == load_npy(dir / "weights" / "classifier.0.weight.rows.npy").to_vector<float>());

  const PthContents zip = load_pth(dir / "vgg16_zip.pth");
  CHECK(zip.container == "zip");
  REQUIRE(zip.tensors.keys() == legacy.tensors.keys());
  for (const auto& [key, t] : legacy.tensors) {
    const Tensor& z = zip.tensors.at(key);
    REQUIRE(z.shape() == t.shape());
    CHECK_MESSAGE(std::memcmp(z.raw_data(), t.raw_data(), t.numel() * sizeof(float)) == 0, key);
  }
}

TEST_CASE("vgg16: loading holds one copy; a features-only load never reads the classifier") {
  const fs::path dir = vgg_dir();
  for (const char* name : {"vgg16_legacy.pth", "vgg16_zip.pth"}) {
    CAPTURE(name);
    double features_mb = 0.0, full_mb = 0.0;
    std::string features_id, full_id;
    features_mb = peak_mb_during([&] { features_id = Vgg16::from_file(dir / name, VggParts::Features).identity().str(); });
    full_mb = peak_mb_during([&] {
      const Vgg16 full = Vgg16::from_file(dir / name, VggParts::Full);
      full_id = full.identity().str();
      CHECK(full.has_classifier());
    });
    std::printf("vgg16 load peak (%s): features only +%.1f MB (weights 58.9 MB), full +%.1f MB (weights 553.4 MB)\n",
                name, features_mb, full_mb);
    CHECK(features_id == full_id);
    // Features are 58.9 MB of float32; the classifier 494.5 MB. Reading the classifier, or a
    // second copy of anything, would exceed these bounds.
    CHECK(features_mb < 100.0);
    CHECK(full_mb < 553.4 + 80.0);
  }
}

TEST_CASE("vgg16: a weight file's digest is hashed once per version of the file") {
  TempDir cache("vgg_digests");
  const EnvScope xdg("XDG_CACHE_HOME", cache.path.string());
  const fs::path file = vgg_dir() / "vgg16_zip.pth";
  const std::string hashed = Vgg16::from_file(file).identity().features_sha256;
  CHECK(hashed == Vgg16::features_sha256(Vgg16::from_file(file).state_dict()));
  const fs::path digests = cache.path / "stylenet" / "digests";
  REQUIRE(fs::is_directory(digests));
  int entries = 0;
  for (const auto& e : fs::directory_iterator(digests)) {
    ++entries;
    CHECK(read_file(e.path()) == hashed);
    // The next load takes the digest from here, not from the weights: a planted one shows it.
    write_file_atomic(e.path(), std::string(64, 'a'));
  }
  CHECK(entries == 1);
  CHECK(Vgg16::from_file(file).identity().features_sha256 == std::string(64, 'a'));
}

TEST_CASE("vgg16: every tap on real images matches PyTorch") {
  const fs::path dir = vgg_dir();
  const Vgg16 legacy = Vgg16::from_file(dir / "vgg16_legacy.pth");
  const Vgg16 zip = Vgg16::from_file(dir / "vgg16_zip.pth");
  CHECK(zip.identity().features_sha256 == legacy.identity().features_sha256);
  NoGradGuard no_grad;
  double worst = 0.0;
  for (const char* name : {"blonde_64", "cornell_64x96", "starry_80"}) {
    const fs::path case_dir = dir / "taps" / name;
    const Tensor input = load_npy(case_dir / "input.npy");
    std::vector<std::string> taps;
    for (const std::string& tap : Vgg16::tap_names())
      if (fs::exists(case_dir / (tap + ".npy"))) taps.push_back(tap);
    REQUIRE(taps.size() >= 13);
    const auto t0 = std::chrono::steady_clock::now();
    const auto got = legacy.features(input, taps);
    const double secs = seconds_since(t0);
    std::string line;
    for (const std::string& tap : taps) {
      CAPTURE(name);
      CAPTURE(tap);
      const double err = relative_error(got.at(tap), load_npy(case_dir / (tap + ".npy")));
      CHECK(err <= kTolerance);
      worst = std::max(worst, err);
      if (tap.rfind("relu", 0) == 0) line += detail::cat(" ", tap, "=", err);
    }
    if (report()) std::printf("taps %s %s (%.2f s):%s\n", name, shape_str(input.shape()).c_str(), secs, line.c_str());
    if (std::string(name) == "blonde_64") {  // the zip-loaded model runs the same numbers
      const auto z = zip.features(input, {"relu5_3"});
      CHECK(relative_error(z.at("relu5_3"), got.at("relu5_3")) == 0.0);
    }
  }
  std::printf("vgg16 taps: largest relative error over all taps and images %.3g\n", worst);
}

TEST_CASE("vgg16: the gradient of a feature loss with respect to the input matches PyTorch") {
  const fs::path dir = vgg_dir() / "grad";
  const Vgg16 vgg = Vgg16::from_file(vgg_dir() / "vgg16_legacy.pth");
  const std::vector<std::string> taps = {"relu1_2", "relu2_2", "relu3_3", "relu4_3"};
  // The loss of gen_vgg.py: content on relu3_3 and relu4_3, Gram matrices on relu1_2 and relu2_2.
  const auto loss_and_grad = [&](DType dtype) {
    std::map<std::string, Tensor> ft;
    {
      NoGradGuard no_grad;
      ft = vgg.features(load_npy(dir / "target.npy").to(dtype), taps);
    }
    Tensor x = load_npy(dir / "input.npy").to(dtype);
    x.set_requires_grad(true);
    const auto fx = vgg.features(x, taps);
    const Tensor loss = mse_loss(fx.at("relu3_3"), ft.at("relu3_3")) + mse_loss(fx.at("relu4_3"), ft.at("relu4_3")) +
                        mse_loss(gram(fx.at("relu1_2")), gram(ft.at("relu1_2"))) +
                        mse_loss(gram(fx.at("relu2_2")), gram(ft.at("relu2_2")));
    backward(loss);
    REQUIRE(x.grad().defined());
    return std::pair{reshape(loss, {1}), x.grad()};
  };
  const Tensor want_loss = load_npy(dir / "loss.npy"), want_grad = load_npy(dir / "grad.npy");  // PyTorch, float64

  // Float64 on both sides: the same function to rounding, so the gradient must agree closely.
  const auto [loss64, grad64] = loss_and_grad(DType::Float64);
  const double loss64_err = relative_error(loss64, want_loss), grad64_err = relative_error(grad64, want_grad);
  CHECK(loss64_err <= 1e-9);
  CHECK(grad64_err <= 1e-9);

  // Float32, the product's path. With ~1M pre-activations per layer, a few lie within float32
  // rounding of 0, where an implementation may land on the other side of the ReLU than exact
  // arithmetic; each such unit moves the gradient over its receptive field. Here PyTorch's own
  // float32 gradient is 3.4e-3 off its float64 one, on 0.7% of the pixels. So: the loss to 1e-4,
  // the gradient to 1e-4 on all but 2% of the pixels, and to 1e-2 everywhere.
  const auto [loss32, grad32] = loss_and_grad(DType::Float32);
  const auto off_fraction = [&](const Tensor& got) {
    const auto g = got.to_vector<double>(), w = want_grad.to_vector<double>();
    double scale = 0.0;
    for (double v : w) scale = std::max(scale, std::abs(v));
    size_t off = 0;
    for (size_t i = 0; i < g.size(); ++i) off += std::abs(g[i] - w[i]) > kTolerance * scale;
    return static_cast<double>(off) / static_cast<double>(g.size());
  };
  const Tensor torch32 = load_npy(dir / "grad_float32.npy");
  std::printf("vgg16 feature-loss gradient vs PyTorch float64: float64 run: loss %.3g, gradient %.3g; float32 run: "
              "loss %.3g, gradient %.3g with %.2f%% of pixels beyond 1e-4 (PyTorch float32: %.3g, %.2f%%)\n",
              loss64_err, grad64_err, relative_error(loss32, want_loss), relative_error(grad32, want_grad),
              100 * off_fraction(grad32), relative_error(torch32, want_grad), 100 * off_fraction(torch32));
  CHECK(relative_error(loss32, want_loss) <= kTolerance);
  CHECK(off_fraction(grad32) <= 0.02);
  CHECK(relative_error(grad32, want_grad) <= 1e-2);
  for (const auto& [key, w] : vgg.state_dict()) CHECK_FALSE(w.requires_grad());  // a fixed encoder
}

TEST_CASE("vgg16: the full model's logits and top-5 match PyTorch's") {
  const fs::path dir = vgg_dir() / "classify";
  const Vgg16 vgg = Vgg16::from_file(vgg_dir() / "vgg16_zip.pth", VggParts::Full);
  NoGradGuard no_grad;
  const Tensor input = load_npy(dir / "input.npy");
  const Tensor want = load_npy(dir / "logits.npy");
  const auto t0 = std::chrono::steady_clock::now();
  const Tensor got = vgg.classify(input);
  const double secs = seconds_since(t0);
  const double err = relative_error(got, want);
  const std::vector<int64_t> ours = top_k(got, 5), theirs = top_k(want, 5);
  std::string list;
  for (size_t i = 0; i < 5; ++i) list += detail::cat(" ", ours[i], "/", theirs[i]);
  std::printf("vgg16 classify 224x224 (%.2f s): logits relative error %.3g; top-5 ours/PyTorch:%s\n", secs, err, list.c_str());
  CHECK(err <= kTolerance);
  CHECK(ours == theirs);

  // Weights without the classifier cannot classify, and say so.
  const Vgg16 features = Vgg16::from_file(vgg_dir() / "vgg16_zip.pth");
  CHECK_THROWS_WITH_AS(features.classify(input), doctest::Contains("needs the classifier"), Error);
}

TEST_CASE("vgg16: the stand-in is the same on every run and build type, with torchvision's init") {
  const Vgg16 a = Vgg16::standin();
  CHECK(a.identity().standin);
  CHECK(a.identity().seed == Vgg16::kStandinSeed);
  // The pinned digest is the drawn weights' digest (the identity carries it without hashing).
  const std::string drawn = Vgg16::features_sha256(a.state_dict());
  MESSAGE("stand-in features sha256: ", drawn);
  CHECK(drawn == Vgg16::kStandinFeaturesSha256);
  CHECK(a.identity().features_sha256 == Vgg16::kStandinFeaturesSha256);
  CHECK(a.identity().str() == "vgg16:standin:seed=20140904:sha256:" + std::string(Vgg16::kStandinFeaturesSha256));
  CHECK(Vgg16::standin().identity().features_sha256 == a.identity().features_sha256);
  CHECK(Vgg16::standin(VggParts::Features, 1).identity().features_sha256 != a.identity().features_sha256);
  // kaiming_normal_(fan_out, relu): std sqrt(2 / (out * 9)); biases zero.
  const Tensor w = a.state_dict().at("features.10.weight");  // conv3_1: 256 x 128 x 3 x 3
  const std::vector<float> v = w.to_vector<float>();
  double sq = 0.0;
  for (float f : v) sq += static_cast<double>(f) * f;
  CHECK(std::sqrt(sq / v.size()) == doctest::Approx(std::sqrt(2.0 / (256 * 9))).epsilon(0.01));
  CHECK(a.state_dict().at("features.10.bias").to_vector<float>() == std::vector<float>(256, 0.0f));
}

TEST_CASE("vgg16: the stand-in draws each layer when first reached, in torchvision's order, shared by copies") {
  // A pass that stops early draws only its layers; the deeper ones drawn later, from a copy, must
  // still continue the same stream (else the digest, and every model trained on it, would change).
  const Vgg16 lazy = Vgg16::standin();
  const Vgg16 copy = lazy;
  Generator gen(3);
  const Tensor image = Tensor::rand({1, 3, 32, 32}, gen);
  const Tensor early = lazy.features(image, {"relu3_1"}).at("relu3_1");
  const Tensor deep = copy.features(image, {"relu4_2"}).at("relu4_2");
  CHECK(Vgg16::features_sha256(lazy.state_dict()) == Vgg16::kStandinFeaturesSha256);
  const Vgg16 eager = Vgg16::standin();
  const TensorDict all = eager.state_dict();  // drawn in one go, before any pass
  CHECK(max_abs_diff(early, eager.features(image, {"relu3_1"}).at("relu3_1")) == 0.0);
  CHECK(max_abs_diff(deep, eager.features(image, {"relu4_2"}).at("relu4_2")) == 0.0);
  CHECK(all.at("features.28.weight").to_vector<float>() == lazy.state_dict().at("features.28.weight").to_vector<float>());
}

TEST_CASE("vgg16: wrong state_dicts, layers and images are refused with a clear error") {
  const TensorDict good = Vgg16::standin().state_dict();
  VggIdentity id;
  id.source = "w.pth";
  TensorDict missing = good;
  missing.erase("features.28.bias");
  CHECK_THROWS_WITH_AS(Vgg16(missing, VggParts::Features, id), doctest::Contains("w.pth: not a torchvision VGG16 state_dict: no 'features.28.bias'"), Error);
  TensorDict reshaped = good;
  reshaped.set("features.0.weight", Tensor::zeros({64, 3, 5, 5}));
  CHECK_THROWS_WITH_AS(Vgg16(reshaped, VggParts::Features, id), doctest::Contains("has shape [64, 3, 5, 5], expected [64, 3, 3, 3]"), Error);
  TensorDict extra = good;
  extra.insert("features.31.weight", Tensor::zeros({1}));
  CHECK_THROWS_WITH_AS(Vgg16(extra, VggParts::Features, id), doctest::Contains("unexpected tensor 'features.31.weight'"), Error);
  CHECK_THROWS_WITH_AS(Vgg16(good, VggParts::Full, id), doctest::Contains("no classifier"), Error);

  const Vgg16 vgg(good, VggParts::Features, id);
  const Tensor img = Tensor::zeros({1, 3, 16, 16});
  CHECK_THROWS_WITH_AS(vgg.features(img, {"relu9_9"}), doctest::Contains("unknown layer 'relu9_9'"), Error);
  CHECK_THROWS_WITH_AS(vgg.features(Tensor::zeros({1, 3, 8, 16}), {"relu5_1"}),
                       doctest::Contains("8x16 image is too small for layer relu5_1 (needs at least 16x16)"), Error);
  CHECK_THROWS_WITH_AS(vgg.features(Tensor::zeros({1, 1, 16, 16}), {"relu1_1"}), doctest::Contains("expects float32 (or float64) RGB"), Error);
  CHECK(vgg.features(img, {"relu1_1", "pool4"}).at("pool4").shape() == Shape{1, 512, 1, 1});
}

TEST_CASE("vgg16: safetensors written by convert load the same weights; features-only reads only features") {
  const fs::path dir = vgg_dir();
  const fs::path out = fs::temp_directory_path() / ("sn_vgg_convert_" + std::to_string(::getpid()) + ".safetensors");
  const ConversionSummary s = convert_to_safetensors(dir / "vgg16_legacy.pth", out);
  CHECK(s.architecture == "vgg16");
  CHECK(s.parameters == 138357544);
  CHECK(s.source_sha256 == sha256_file_hex(dir / "vgg16_legacy.pth"));
  const Vgg16 from_pth = Vgg16::from_file(dir / "vgg16_legacy.pth");
  std::string id;
  const double mb = peak_mb_during([&] { id = Vgg16::from_file(out).identity().features_sha256; });
  std::printf("vgg16 features-only load from safetensors: peak +%.1f MB\n", mb);
  CHECK(mb < 100.0);
  CHECK(id == from_pth.identity().features_sha256);
  const WeightFile st = read_weight_file(out, [](const std::string& k) { return k == "classifier.6.bias"; });
  CHECK(st.tensors.size() == 1);
  CHECK(st.metadata.at("architecture") == "vgg16");
  CHECK(st.metadata.at("source_sha256") == s.source_sha256);
  CHECK(st.metadata.at("features_sha256") == id);
  CHECK(st.metadata.at("preprocessing").find("mean [0.485, 0.456, 0.406]") != std::string::npos);
  fs::remove(out);
}
