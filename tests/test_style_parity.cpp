// Parity with PyTorch for the style-transfer pieces: tests/style/gen_style.py builds LST's
// MulLayer, the VGG16-mirror decoder, AdaIN and the losses in PyTorch, and writes their weights,
// inputs, outputs and gradients (inputs and parameters, for loss = sum(out * gout)). Here the
// same modules load those weights through Module::load_state_dict (same keys) and must give the
// same numbers.
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
#include "stylenet/losses.h"
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

// Largest |got - want| relative to the allowed error; <= 1 passes.
void compare(const std::string& what, const Tensor& got, const Tensor& want) {
  REQUIRE_MESSAGE(got.defined(), what, ": no value");
  REQUIRE_MESSAGE(got.shape() == want.shape(), what, ": shape ", shape_str(got.shape()), " vs ",
                  shape_str(want.shape()));
  const std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  double scale = 0.0;
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

// Loads the module's weights from state.<key>.npy (keys from meta.txt, strict), runs `fn`,
// backpropagates sum(out * gout) and compares output, input and parameter gradients.
void check_case(const Case& c, Module* module, const std::function<Tensor(const std::vector<Tensor>&)>& fn) {
  std::vector<std::string> keys;
  if (module) {
    keys = split(c.meta.at("params"));
    TensorDict sd;
    for (const std::string& k : keys) sd.insert(k, c.load("state." + k));
    module->load_state_dict(sd);  // strict: the key sets must be identical
  }
  const Tensor out = fn(c.inputs);
  const std::string name = c.dir.filename().string();
  compare(name + " output", out, c.load("out"));
  backward(sum(out * c.load("gout")));
  for (size_t i = 0; i < c.inputs.size(); ++i)
    compare(name + " d/d input " + std::to_string(i), c.inputs[i].grad(), c.load("gin" + std::to_string(i)));
  if (module) {
    const auto params = module->named_parameters();
    REQUIRE(params.size() == keys.size());
    for (const auto& [k, p] : params) compare(name + " d/d " + k, p.grad(), c.load("grad." + k));
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

TEST_CASE("style parity: adain and losses") {
  using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
  const std::vector<std::pair<const char*, Fn>> fns = {
      {"adain", [](auto& x) { return adain(x[0], x[1]); }},
      {"gram", [](auto& x) { return gram(x[0]); }},
      {"mean_std_loss", [](auto& x) { return mean_std_loss(x[0], x[1]); }},
      {"gram_loss", [](auto& x) { return gram_loss(x[0], x[1]); }},
      {"content_loss", [](auto& x) { return content_loss(x[0], x[1]); }},
      {"total_variation", [](auto& x) { return total_variation(x[0]); }},
  };
  for (const auto& [name, fn] : fns) {
    SUBCASE(name) { check_case(open_case(name), nullptr, fn); }
  }
}
