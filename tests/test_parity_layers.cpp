// Parity with PyTorch for layers/ and optim/: each layers/ module, loaded from the state_dict of the
// torch.nn module of the same type, must give its output and its input and parameter gradients;
// and 20 training steps of a small conv net built from layers/ (Sequential) with optim/ (Adam, SGD
// nesterov, AdamW) must give torch.nn.Sequential + torch.optim's losses and final parameters. The
// golden files and tolerances as tests/test_parity.cpp's (tests/parity/golden.h); ctest runs the
// parity_golden fixture first. By hand:
//   /usr/bin/python3 tests/parity/gen_golden.py /tmp/golden
//   STYLENET_GOLDEN_DIR=/tmp/golden ./stylenet_tests --source-file=*test_parity_layers.cpp
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/nn_ops.h"
#include "layers/layers.h"
#include "optim/adam.h"
#include "optim/sgd.h"
#include "tests/parity/golden.h"

using namespace sn;
using namespace sn::parity;

namespace {

std::shared_ptr<Module> make_layer(const Meta& m) {
  const std::string type = m.str("layer");
  auto size2 = [&](const std::string& k) {
    const auto p = m.pair(k);
    return Size2(p[0], p[1]);
  };
  if (type == "Conv2d") {
    Conv2dConfig c;
    c.stride = size2("stride");
    c.padding = size2("padding");
    c.dilation = size2("dilation");
    c.groups = m.i("groups");
    c.bias = m.i("bias") != 0;
    return std::make_shared<Conv2d>(m.i("in_channels"), m.i("out_channels"), size2("kernel"), c);
  }
  if (type == "Linear") return std::make_shared<Linear>(m.i("in_features"), m.i("out_features"), m.i("bias") != 0);
  if (type == "InstanceNorm2d") return std::make_shared<InstanceNorm2d>(m.i("num_features"), m.d("eps"), m.i("affine") != 0);
  if (type == "MaxPool2d" || type == "AvgPool2d") {
    PoolConfig c;
    c.stride = size2("stride");
    c.padding = size2("padding");
    c.ceil_mode = m.i("ceil_mode") != 0;
    c.count_include_pad = m.i_or("count_include_pad", 1) != 0;
    if (type == "MaxPool2d") return std::make_shared<MaxPool2d>(size2("kernel"), c);
    return std::make_shared<AvgPool2d>(size2("kernel"), c);
  }
  if (type == "Upsample") {
    if (m.str("mode") == "nearest") return Upsample::scale(size2("scale"), UpsampleMode::Nearest);
    return Upsample::size(size2("size"), UpsampleMode::Bilinear);
  }
  if (type == "ReflectionPad2d" || type == "ZeroPad2d") {
    const auto v = m.ints("lrtb");
    if (type == "ReflectionPad2d") return std::make_shared<ReflectionPad2d>(v[0], v[1], v[2], v[3]);
    return std::make_shared<ZeroPad2d>(v[0], v[1], v[2], v[3]);
  }
  if (type == "LeakyReLU") return std::make_shared<LeakyReLU>(m.d("slope"));
  throw Error("parity: no C++ layer for '" + type + "'");
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& e : v) s += (s.empty() ? "" : ",") + e;
  return s;
}

CaseResult run_layer_case(const fs::path& dir, const Meta& m) {
  CaseResult res;
  std::ostringstream msg;
  msg << dir.filename().string() << " (layer " << m.str("layer") << ")";
  auto record = [&](const Cmp& c) {
    res.ok = res.ok && c.ok;
    res.worst_abs = std::max(res.worst_abs, c.max_abs);
    res.worst_ratio = std::max(res.worst_ratio, c.worst_ratio);
    msg << "\n  " << (c.ok ? "ok   " : "FAIL ") << c.message;
  };
  const std::shared_ptr<Module> layer = make_layer(m);
  // Same parameter names, in the same order, as torch's named_parameters().
  const std::vector<std::string> want_names = m.list("params");
  std::vector<std::string> names;
  std::vector<Tensor> params;
  for (const auto& [n, t] : layer->named_parameters()) {
    names.push_back(n);
    params.push_back(t);
  }
  if (names != want_names) {
    res.ok = false;
    msg << "\n  FAIL parameter names [" << join(names) << "], PyTorch has [" << join(want_names) << "]";
    res.message = msg.str();
    return res;
  }
  TensorDict state;
  for (const auto& n : names) state.insert(n, read_npy(dir / ("state." + n + ".npy")));
  layer->load_state_dict(state);

  Tensor x = read_npy(dir / "in0.npy");
  x.set_requires_grad(true);
  const Tensor out = (*layer)(x);
  const Tensor want_out = read_npy(dir / "out.npy");
  // Tolerances as the functional op's, with n from the functional op's inputs (x, weight).
  static const std::map<std::string, std::string> functional = {
      {"Conv2d", "conv2d"}, {"Linear", "linear"}, {"InstanceNorm2d", "instance_norm"},
      {"MaxPool2d", "max_pool2d"}, {"AvgPool2d", "avg_pool2d"}, {"Upsample", "upsample_bilinear2d"},
      {"ReflectionPad2d", "pad2d"}, {"ZeroPad2d", "pad2d"}, {"LeakyReLU", "leaky_relu"}};
  const std::string op = functional.at(m.str("layer"));
  Inputs xs{x};
  if (!params.empty()) xs.push_back(params[0]);
  const int64_t nt = terms(op, xs, want_out);
  record(compare("out", out, want_out, tolerance(op, DType::Float32, nt, want_out)));
  std::vector<Tensor> wrt{x};
  wrt.insert(wrt.end(), params.begin(), params.end());
  const std::vector<Tensor> grads = sn::grad({out}, wrt, {read_npy(dir / "gout.npy")});
  const Tensor want_gx = read_npy(dir / "gin0.npy");
  record(compare("grad input", grads[0], want_gx, tolerance(op, DType::Float32, nt, want_gx)));
  for (size_t k = 0; k < names.size(); ++k) {
    const Tensor want = read_npy(dir / ("grad." + names[k] + ".npy"));
    record(compare("grad " + names[k], grads[k + 1], want, tolerance(op, DType::Float32, nt, want)));
  }
  res.message = msg.str();
  return res;
}

// The same net as functional_net, built from layers/ as torch.nn.Sequential is in gen_golden.py.
std::shared_ptr<Sequential> make_train_net() {
  Conv2dConfig pad1;
  pad1.padding = 1;
  Conv2dConfig down;
  down.stride = 2;
  down.padding = 1;
  down.bias = false;
  return make_sequential({
      std::make_shared<Conv2d>(3, 8, 3, pad1),          // 0
      std::make_shared<ReLU>(),                         // 1
      std::make_shared<Conv2d>(8, 8, 3, down),          // 2
      std::make_shared<InstanceNorm2d>(8, 1e-5, true),  // 3
      std::make_shared<LeakyReLU>(0.2),                 // 4
      Upsample::scale(2, UpsampleMode::Nearest),        // 5
      std::make_shared<ReflectionPad2d>(1),             // 6
      std::make_shared<Conv2d>(8, 3, 3),                // 7
  });
}

std::unique_ptr<Optimizer> make_optimizer(const Meta& m, std::vector<Tensor> params) {
  const std::string kind = m.str("optimizer");
  if (kind == "sgd") {
    SGDOptions o;
    o.lr = m.d("lr");
    o.momentum = m.d_or("momentum", 0);
    o.dampening = m.d_or("dampening", 0);
    o.weight_decay = m.d_or("weight_decay", 0);
    o.nesterov = m.i_or("nesterov", 0) != 0;
    return std::make_unique<SGD>(std::move(params), o);
  }
  AdamOptions o = kind == "adamw" ? AdamW::default_options() : AdamOptions{};
  o.lr = m.d("lr");
  o.weight_decay = m.d_or("weight_decay", o.weight_decay);
  if (kind == "adamw") return std::make_unique<AdamW>(std::move(params), o);
  SN_CHECK(kind == "adam", "parity: unknown optimizer '", kind, "'");
  return std::make_unique<Adam>(std::move(params), o);
}

void run_module_training(const fs::path& dir) {
  const TrainGolden g = load_train(dir);
  const auto net = make_train_net();
  std::vector<std::string> names;
  for (const auto& [n, t] : net->state_dict()) names.push_back(n);
  REQUIRE_MESSAGE(names == g.names, "state_dict keys [", join(names), "], PyTorch has [", join(g.names), "]");
  TensorDict init;
  for (const auto& n : g.names) init.insert(n, g.init.at(n));
  net->load_state_dict(init);
  const auto opt = make_optimizer(g.m, net->parameters());
  std::vector<double> losses;
  const int64_t steps = g.m.i("steps");
  for (int64_t s = 0; s < steps; ++s) {
    opt->zero_grad();
    const Tensor loss = mse_loss((*net)(g.x), g.target);
    losses.push_back(loss.item());
    backward(loss);
    opt->step();
  }
  std::map<std::string, Tensor> final_params;
  for (const auto& [n, t] : net->state_dict()) final_params[n] = t;
  check_training(g, dir.filename().string() + " (Sequential of layers/, optim/" + g.m.str("optimizer") + ")",
                 losses, final_params);
}

}  // namespace

TEST_CASE("parity: layers/ modules with a PyTorch state_dict match torch.nn") {
  const fs::path dir = golden_dir();
  int n = 0;
  for (const GoldenCase& c : cases_of_kind(dir, "layer")) {
    ++n;
    const CaseResult r =
        run_guarded(c.name + " (layer " + c.meta.str("layer") + ")", [&] { return run_layer_case(c.dir, c.meta); });
    if (report_all()) MESSAGE(r.message);
    CHECK_MESSAGE(r.ok, r.message);
  }
  CHECK(n >= 6);
}

// The required end-to-end case: Sequential + optim/ for 20 steps, every loss and the final
// parameters against torch.nn.Sequential + torch.optim.
TEST_CASE("parity: 20 training steps of a small conv net, layers/ + optim/ (Adam, SGD nesterov, AdamW)") {
  const fs::path dir = golden_dir();
  int n = 0;
  for (const GoldenCase& c : cases_of_kind(dir, "train")) {
    ++n;
    INFO("case ", c.name);
    run_module_training(c.dir);
  }
  CHECK(n >= 3);
}

