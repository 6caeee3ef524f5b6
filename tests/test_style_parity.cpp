// Parity with PyTorch for the style-transfer pieces: tests/style/gen_style.py builds LST's
// MulLayer, the VGG16-mirror decoder, AdaIN, the losses and the PatchGAN discriminator in PyTorch,
// and writes their weights, inputs, outputs and gradients (inputs and parameters, for loss =
// sum(out * gout)). Here the same modules load those weights through Module::load_state_dict (same
// keys) and must give the same numbers, list their state_dict keys in PyTorch's order, and leave
// their buffers as PyTorch's forward left them (spectral norm's power iteration).
//
// The files are generated at test time into $STYLENET_STYLE_GOLDEN_DIR (a ctest fixture, see
// tests/CMakeLists.txt); a missing directory is a failure, never a skip. By hand:
//   /usr/bin/python3 tests/style/gen_style.py /tmp/style_golden
//   STYLENET_STYLE_GOLDEN_DIR=/tmp/style_golden build-s/tests/stylenet_tests --source-file=*test_style_parity.cpp
// STYLENET_PARITY_REPORT=1 prints each comparison's largest error.
//
// Tolerance (float32 on both sides): |got - want| <= rtol * |want| + atol with rtol = 1e-4 and
// atol = 1e-4 * max|want|. Outputs and gradients here are sums of hundreds to thousands of terms
// (3x3 convs over 256 channels, 1024-wide Linear layers, k x k covariances) computed in different
// orders, so elements that cancel towards zero carry errors at the scale of the tensor's large
// elements, not their own; 1e-4 of that scale is still ~1000x above float32 rounding and far below
// what a wrong formula (a missing centring, a transposed matrix, biased vs unbiased variance)
// produces.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "stylenet/decoder.h"
#include "stylenet/fusion.h"
#include "stylenet/learned_fusion.h"
#include "stylenet/losses.h"
#include "training/discriminator.h"
#include "weights/npy.h"

using namespace sn;
namespace fs = std::filesystem;

namespace {

fs::path golden_dir() {
  const char* d = std::getenv("STYLENET_STYLE_GOLDEN_DIR");
  REQUIRE_MESSAGE(d != nullptr, "STYLENET_STYLE_GOLDEN_DIR is not set (run through ctest, or see the header)");
  REQUIRE_MESSAGE(fs::is_directory(d), "no golden directory ", d);
  return d;
}

std::map<std::string, std::string> read_meta(const fs::path& folder) {
  std::ifstream f(folder / "meta.txt");
  REQUIRE_MESSAGE(f.good(), "cannot read ", (folder / "meta.txt").string());
  std::map<std::string, std::string> kv;
  for (std::string line; std::getline(f, line);) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return kv;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(item);
  return out;
}

// Largest |got - want| relative to the allowed error; <= 1 passes. `scale_floor` stands in for
// max|want| when that is larger (see check_case's scale_like).
void compare(const std::string& what, const Tensor& got, const Tensor& want, double scale_floor = 0.0) {
  REQUIRE_MESSAGE(got.defined(), what, ": no value");
  REQUIRE_MESSAGE(got.shape() == want.shape(), what, ": shape ", shape_str(got.shape()), " vs ",
                  shape_str(want.shape()));
  const std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  double scale = scale_floor;
  for (double v : w) scale = std::max(scale, std::abs(v));
  const double rtol = 1e-4, atol = 1e-4 * std::max(scale, 1e-30);
  double worst = 0.0, max_rel = 0.0;
  size_t at = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const double err = std::abs(g[i] - w[i]);
    const double ratio = err / (atol + rtol * std::abs(w[i]));
    if (!(ratio <= worst)) worst = ratio, at = i;
    max_rel = std::max(max_rel, err / std::max(scale, 1e-30));
  }
  if (std::getenv("STYLENET_PARITY_REPORT"))
    std::cout << "  " << what << ": max |err| / max |want| = " << max_rel << "\n";
  INFO(what, ": element ", at, " got ", g[at], " want ", w[at], " (", worst, "x the tolerance)");
  CHECK(worst <= 1.0);
}

struct Case {
  fs::path dir;
  std::map<std::string, std::string> meta;
  std::vector<Tensor> inputs;

  Tensor load(const std::string& name) const { return load_npy(dir / (name + ".npy")); }
};

Case open_case(const std::string& name) {
  Case c;
  c.dir = golden_dir() / name;
  c.meta = read_meta(c.dir);
  const int n = std::stoi(c.meta.at("ninputs"));
  for (int i = 0; i < n; ++i) {
    Tensor x = c.load("in" + std::to_string(i));
    x.set_requires_grad(true);
    c.inputs.push_back(x);
  }
  return c;
}

double max_abs(const Tensor& t) {
  double m = 0.0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::abs(v));
  return m;
}

// Loads the module's parameters and buffers from state.<key>.npy (keys from meta.txt, strict),
// runs `fn`, backpropagates sum(out * gout) and compares output, buffers after the forward, input
// and parameter gradients.
//
// scale_like[k] = k2 measures parameter k's gradient error at the scale of k2's gradient: for a
// gradient that is exactly zero in exact arithmetic (a conv bias followed by InstanceNorm without
// affine, which subtracts the channel mean), both sides return float32 rounding noise with no
// scale of its own; a wrong, nonzero gradient would still be of k2's size and fail.
void check_case(const Case& c, Module* module, const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                const std::map<std::string, std::string>& scale_like = {}) {
  std::vector<std::string> keys, buffer_keys;
  const std::string name = c.dir.filename().string();
  if (module) {
    keys = split(c.meta.at("params"));
    if (c.meta.count("buffers")) buffer_keys = split(c.meta.at("buffers"));
    TensorDict sd;
    for (const std::string& k : keys) sd.insert(k, c.load("state." + k));
    for (const std::string& k : buffer_keys) sd.insert(k, c.load("state." + k));
    module->load_state_dict(sd);  // strict: the key sets must be identical
    if (c.meta.count("state_keys")) {  // same order too, so PyTorch-side tooling sees the same list
      CHECK_MESSAGE(module->state_dict().keys() == split(c.meta.at("state_keys")), name,
                    ": state_dict keys differ from PyTorch's order");
    }
  }
  const Tensor out = fn(c.inputs);
  compare(name + " output", out, c.load("out"));
  if (module) {
    const auto buffers = module->named_buffers();
    REQUIRE(buffers.size() == buffer_keys.size());
    for (const auto& [k, b] : buffers) compare(name + " buffer " + k + " after forward", b, c.load("after." + k));
  }
  backward(sum(out * c.load("gout")));
  for (size_t i = 0; i < c.inputs.size(); ++i)
    compare(name + " d/d input " + std::to_string(i), c.inputs[i].grad(), c.load("gin" + std::to_string(i)));
  if (module) {
    const auto params = module->named_parameters();
    REQUIRE(params.size() == keys.size());
    for (const auto& [k, p] : params) {
      const auto like = scale_like.find(k);
      const double floor = like == scale_like.end() ? 0.0 : max_abs(c.load("grad." + like->second));
      compare(name + " d/d " + k, p.grad(), c.load("grad." + k), floor);
    }
  }
}

}  // namespace

TEST_CASE("style parity: LearnedFusion vs LST's MulLayer") {
  for (const char* name : {"lst_c64_k32", "lst_c16_k4"}) {
    SUBCASE(name) {
      const Case c = open_case(name);
      REQUIRE(c.meta.at("kind") == "lst");
      LearnedFusion fusion(std::stoll(c.meta.at("channels")), std::stoll(c.meta.at("k")));
      check_case(c, &fusion, [&](auto& x) { return fusion.fuse(x[0], x[1]); });
    }
  }
}

TEST_CASE("style parity: Decoder") {
  for (const char* name : {"decoder_relu3_1_w025", "decoder_relu4_1_w0125"}) {
    SUBCASE(name) {
      const Case c = open_case(name);
      REQUIRE(c.meta.at("kind") == "decoder");
      Decoder dec({c.meta.at("tap"), std::stod(c.meta.at("width"))});
      check_case(c, &dec, [&](auto& x) { return dec.forward(x[0]); });
    }
  }
}

TEST_CASE("style parity: Discriminator vs pix2pix's PatchGAN (spectral norm, multi-scale)") {
  for (const char* name : {"disc_b8_l2_s2", "disc_b8_l3_sn", "disc_b8_l2_sn_s2", "disc_b4_l4"}) {
    SUBCASE(name) {
      const Case c = open_case(name);
      REQUIRE(c.meta.at("kind") == "discriminator");
      DiscriminatorConfig cfg;
      cfg.base = std::stoll(c.meta.at("base"));
      cfg.layers = std::stoll(c.meta.at("layers"));
      cfg.spectral_norm = c.meta.at("spectral_norm") == "1";
      cfg.scales = std::stoll(c.meta.at("scales"));
      Discriminator d(cfg);
      d.train();  // as the twin: spectral norm runs one power iteration in the forward
      // Biases of convs followed by InstanceNorm get a zero gradient: compare them at the scale of
      // their conv's weight gradient (see check_case).
      std::map<std::string, std::string> scale_like;
      for (const auto& [scale_name, patch] : d.children()) {
        const Sequential& model = *static_cast<const PatchDiscriminator&>(*patch).model;
        for (size_t i = 0; i + 1 < model.size(); ++i) {
          if (model[i + 1]->name() != "InstanceNorm2d") continue;
          const std::string prefix = scale_name + ".model." + std::to_string(i) + ".";
          scale_like[prefix + "bias"] = prefix + (cfg.spectral_norm ? "weight_orig" : "weight");
        }
      }
      // The twin's output: each scale's logits flattened per sample, concatenated (scale 0 first).
      check_case(c, &d, [&](auto& x) {
        std::vector<Tensor> flat;
        for (const Tensor& l : d.forward_scales(x[0])) flat.push_back(flatten(l, 1));
        return cat(flat, 1);
      }, scale_like);
    }
  }
}

TEST_CASE("style parity: adain and losses") {
  using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
  const std::vector<std::pair<const char*, Fn>> fns = {
      {"adain", [](auto& x) { return adain(x[0], x[1]); }},
      {"gram", [](auto& x) { return gram(x[0]); }},
      {"mean_std_loss", [](auto& x) { return mean_std_loss(x[0], x[1]); }},
      {"gram_loss", [](auto& x) { return gram_loss(x[0], x[1]); }},
      {"content_loss", [](auto& x) { return content_loss(x[0], x[1]); }},
      {"total_variation", [](auto& x) { return total_variation(x[0]); }},
      {"laplacian_loss_p1", [](auto& x) { return laplacian_loss(x[0], x[1], 1); }},
      {"laplacian_loss_p2", [](auto& x) { return laplacian_loss(x[0], x[1], 2); }},
  };
  for (const auto& [name, fn] : fns) {
    SUBCASE(name) { check_case(open_case(name), nullptr, fn); }
  }
}
