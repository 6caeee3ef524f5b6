// The Module system (registration, dotted names, state_dict, strict loading, modes, dtype
// conversion) and each layer: PyTorch's default initialization and forward results.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>

#include "autograd/gradcheck.h"
#include "layers/layers.h"

using namespace sn;

namespace {

std::vector<double> vals(const Tensor& t) { return t.to_vector<double>(); }

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& items) {
  std::vector<std::string> out;
  for (const auto& [n, t] : items) out.push_back(n);
  return out;
}

// The network of tests/parity/gen_golden.py (make_net), built from layers.
std::shared_ptr<Sequential> make_net(Generator& gen) {
  Conv2dConfig down;
  down.stride = 2;
  down.padding = 1;
  down.bias = false;
  Conv2dConfig pad1;
  pad1.padding = 1;
  return make_sequential({
      std::make_shared<Conv2d>(3, 8, 3, pad1, &gen), std::make_shared<ReLU>(), std::make_shared<Conv2d>(8, 8, 3, down, &gen),
      std::make_shared<InstanceNorm2d>(8, 1e-5, true), std::make_shared<LeakyReLU>(0.2), Upsample::scale(2),
      std::make_shared<ReflectionPad2d>(1), std::make_shared<Conv2d>(8, 3, 3, Conv2dConfig{}, &gen)});
}

// A user-defined module with a buffer and nested children, as model code writes them.
class Block : public Module {
 public:
  explicit Block(Generator& gen) : Module("Block") {
    conv = register_module("conv", std::make_shared<Conv2d>(2, 2, 1, Conv2dConfig{}, &gen));
    norm = register_module("norm", std::make_shared<InstanceNorm2d>(2, 1e-5, true));
    scale = register_parameter("scale", Tensor::full({1}, 0.5));
    register_buffer("calls", Tensor::zeros({1}));
  }
  Tensor forward(const Tensor& x) override { return x + (*norm)((*conv)(x)) * scale; }
  std::shared_ptr<Conv2d> conv;
  std::shared_ptr<InstanceNorm2d> norm;
  Tensor scale;
};

}  // namespace

// ---------------------------------------------------------------- Module

TEST_CASE("parameters and buffers are listed recursively with dotted names in registration order") {
  Generator gen(1);
  Sequential net{std::make_shared<Block>(gen), std::make_shared<ReLU>(), std::make_shared<Block>(gen)};
  CHECK(names_of(net.named_parameters()) ==
        std::vector<std::string>{"0.scale", "0.conv.weight", "0.conv.bias", "0.norm.weight", "0.norm.bias", "2.scale",
                                 "2.conv.weight", "2.conv.bias", "2.norm.weight", "2.norm.bias"});
  CHECK(names_of(net.named_buffers()) == std::vector<std::string>{"0.calls", "2.calls"});
  // state_dict: each module's parameters, then its buffers, then its children (PyTorch's order).
  CHECK(net.state_dict().keys() ==
        std::vector<std::string>{"0.scale", "0.calls", "0.conv.weight", "0.conv.bias", "0.norm.weight", "0.norm.bias",
                                 "2.scale", "2.calls", "2.conv.weight", "2.conv.bias", "2.norm.weight", "2.norm.bias"});
  CHECK(net.parameters().size() == 10);
  CHECK(net.num_parameters() == 2 * (1 + 4 + 2 + 2 + 2));
  for (const Tensor& p : net.parameters()) CHECK(p.requires_grad());
  CHECK_FALSE(net.named_buffers()[0].second.requires_grad());
}

TEST_CASE("the parity network has PyTorch's state_dict keys and parameter count") {
  Generator gen(0);
  auto net = make_net(gen);
  // Verified with torch 1.13: list(make_net().state_dict()), sum(p.numel() for p in parameters()).
  CHECK(net->state_dict().keys() ==
        std::vector<std::string>{"0.weight", "0.bias", "2.weight", "3.weight", "3.bias", "7.weight", "7.bias"});
  CHECK(net->num_parameters() == 1035);
  Generator xg(2);
  CHECK(net->forward(Tensor::randn({2, 3, 8, 8}, xg)).shape() == Shape{2, 3, 8, 8});
  CHECK(net->str() ==
        "Sequential(\n"
        "  (0): Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
        "  (1): ReLU()\n"
        "  (2): Conv2d(8, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)\n"
        "  (3): InstanceNorm2d(8, eps=1e-05, affine=True)\n"
        "  (4): LeakyReLU(negative_slope=0.2)\n"
        "  (5): Upsample(scale_factor=(2, 2), mode='nearest')\n"
        "  (6): ReflectionPad2d((1, 1, 1, 1))\n"
        "  (7): Conv2d(8, 3, kernel_size=(3, 3), stride=(1, 1))\n"
        ")");
}

TEST_CASE("registration refuses duplicate, dotted and undefined members") {
  class Bad : public Module {
   public:
    Bad() : Module("Bad") {}
    using Module::register_buffer;
    using Module::register_parameter;
  } m;
  m.register_parameter("w", Tensor::ones({1}));
  CHECK_THROWS_WITH_AS(m.register_parameter("w", Tensor::ones({1})), doctest::Contains("'w' is already registered"), Error);
  CHECK_THROWS_WITH_AS(m.register_buffer("w", Tensor::ones({1})), doctest::Contains("already registered"), Error);
  CHECK_THROWS_WITH_AS(m.register_parameter("a.b", Tensor::ones({1})), doctest::Contains("invalid member name"), Error);
  CHECK_THROWS_WITH_AS(m.register_parameter("u", Tensor()), doctest::Contains("undefined"), Error);
  CHECK_THROWS_WITH_AS(m.register_module("c", std::shared_ptr<Module>()), doctest::Contains("null"), Error);
  CHECK_THROWS_WITH_AS(m.forward(Tensor::ones({1})), doctest::Contains("Bad: forward(x) is not implemented"), Error);
}

TEST_CASE("a shared parameter is listed once, so an optimizer updates it once") {
  Generator gen(1);
  auto conv = std::make_shared<Conv2d>(1, 1, 1, Conv2dConfig{}, &gen);
  Sequential net{conv, conv};
  CHECK(names_of(net.named_parameters()) == std::vector<std::string>{"0.weight", "0.bias"});
  CHECK(net.state_dict().size() == 4);  // state_dict keeps both names, as PyTorch does
}

TEST_CASE("SkipRandomInit: modules built under it draw nothing and leave their weights for a load") {
  Generator used(5), untouched(5);
  std::unique_ptr<Conv2d> conv;
  {
    init::SkipRandomInit skip;
    conv = std::make_unique<Conv2d>(3, 4, 3, Conv2dConfig{}, &used);
  }
  CHECK(used.next_u32() == untouched.next_u32());  // nothing drawn
  Generator again(5);
  Conv2d drawn(3, 4, 3, {}, &again);  // outside the scope: drawn as usual
  CHECK(sum(abs(drawn.weight)).item() > 0.0);
  conv->load_state_dict(drawn.state_dict());  // what a model file's strict load then does
  CHECK(conv->weight.to_vector<float>() == drawn.weight.to_vector<float>());
}

TEST_CASE("state_dict round trip: values copied into the existing tensors") {
  Generator g1(1), g2(2), xg(3);
  auto a = make_net(g1);
  auto b = make_net(g2);
  const Tensor x = Tensor::randn({1, 3, 6, 6}, xg);
  CHECK(vals(a->forward(x)) != vals(b->forward(x)));

  const Tensor b_weight = std::static_pointer_cast<Conv2d>((*b)[0])->weight;
  b->load_state_dict(a->state_dict());
  CHECK(vals(a->forward(x)) == vals(b->forward(x)));
  // Same tensor objects as before: references held by an optimizer stay valid.
  CHECK(std::static_pointer_cast<Conv2d>((*b)[0])->weight.same(b_weight));
  CHECK(b->parameters()[0].same(b_weight));
  CHECK(b_weight.requires_grad());
  // The dict shares storage with the model (like PyTorch), but carries no autograd flag.
  const TensorDict sd = a->state_dict();
  CHECK_FALSE(sd.at("0.weight").requires_grad());
  CHECK(sd.at("0.weight").storage() == std::static_pointer_cast<Conv2d>((*a)[0])->weight.storage());
}

TEST_CASE("strict loading names missing and unexpected keys; shape and dtype mismatches name both") {
  Generator g1(1), g2(2);
  auto net = make_net(g1);
  const std::vector<double> before = vals(net->parameters()[0]);
  const TensorDict good = make_net(g2)->state_dict();

  TensorDict missing = good;
  missing.erase("3.bias");
  CHECK_THROWS_WITH_AS(net->load_state_dict(missing), doctest::Contains("missing keys: 3.bias"), Error);

  TensorDict extra = good;
  extra.insert("9.weight", Tensor::ones({1}));
  CHECK_THROWS_WITH_AS(net->load_state_dict(extra), doctest::Contains("unexpected keys: 9.weight"), Error);

  TensorDict wrong_shape = good;
  wrong_shape.set("2.weight", Tensor::zeros({8, 8, 1, 1}));
  CHECK_THROWS_WITH_AS(net->load_state_dict(wrong_shape),
                       doctest::Contains("shape mismatch for '2.weight': the checkpoint has [8, 8, 1, 1], the model has "
                                         "[8, 8, 3, 3]"),
                       Error);
  TensorDict wrong_dtype = good;
  wrong_dtype.set("0.bias", Tensor::zeros({8}, DType::Float64));
  CHECK_THROWS_WITH_AS(net->load_state_dict(wrong_dtype),
                       doctest::Contains("dtype mismatch for '0.bias': the checkpoint has float64, the model has float32"),
                       Error);
  // Nothing was changed by the failed loads.
  CHECK(vals(net->parameters()[0]) == before);

  // Non-strict loading takes what matches and ignores the rest (still refuses wrong shapes).
  net->load_state_dict(missing, /*strict=*/false);
  CHECK(vals(net->parameters()[0]) == vals(good.at("0.weight")));
  CHECK_THROWS_AS(net->load_state_dict(wrong_shape, false), Error);
}

TEST_CASE("train/eval reach every module; zero_grad drops gradients") {
  Generator gen(1);
  auto net = make_net(gen);
  CHECK(net->is_training());
  net->eval();
  CHECK_FALSE(net->is_training());
  for (const auto& [n, child] : net->children()) CHECK_FALSE(child->is_training());
  net->train();
  CHECK((*net)[3]->is_training());

  Generator xg(4);
  backward(mean(square(net->forward(Tensor::randn({1, 3, 4, 4}, xg)))));
  for (const Tensor& p : net->parameters()) CHECK(p.grad().defined());
  net->zero_grad();
  for (const Tensor& p : net->parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("to(float64) converts in place and the whole network passes gradcheck") {
  Generator gen(5);
  Conv2dConfig pad1;
  pad1.padding = 1;
  Sequential net{std::make_shared<Conv2d>(2, 3, 3, pad1, &gen), std::make_shared<InstanceNorm2d>(3, 1e-5, true),
                 std::make_shared<LeakyReLU>(0.2), std::make_shared<ReflectionPad2d>(1), std::make_shared<AvgPool2d>(2),
                 std::make_shared<Tanh>(), Upsample::scale(2, UpsampleMode::Bilinear), std::make_shared<Conv2d>(3, 1, 1, Conv2dConfig{}, &gen),
                 std::make_shared<Sigmoid>()};
  const Tensor w = net.parameters()[0];
  const std::vector<double> w32 = vals(w);
  net.to(DType::Float64);
  CHECK(w.dtype() == DType::Float64);       // the same handle, converted
  CHECK(net.parameters()[0].same(w));
  CHECK(vals(w) == w32);                    // float32 values are exact in float64
  CHECK(w.requires_grad());

  Generator xg(6);
  Tensor x = Tensor::randn({2, 2, 4, 4}, xg, DType::Float64);
  x.set_requires_grad(true);
  std::vector<Tensor> inputs{x};
  for (const Tensor& p : net.parameters()) inputs.push_back(p);
  const GradcheckResult r = gradcheck([&](const std::vector<Tensor>& in) { return net.forward(in[0]); }, inputs);
  CHECK_MESSAGE(r.ok, r.message);
}

// ---------------------------------------------------------------- initialization

TEST_CASE("init: gains and fans are PyTorch's") {
  using namespace init;
  // torch.nn.init.calculate_gain values (torch 1.13).
  CHECK(calculate_gain(Nonlinearity::Linear) == 1.0);
  CHECK(calculate_gain(Nonlinearity::Sigmoid) == 1.0);
  CHECK(calculate_gain(Nonlinearity::Tanh) == doctest::Approx(1.6666666666666667));
  CHECK(calculate_gain(Nonlinearity::ReLU) == doctest::Approx(1.4142135623730951));
  CHECK(calculate_gain(Nonlinearity::LeakyReLU, 0.2) == doctest::Approx(1.3867504905630728));
  CHECK(calculate_gain(Nonlinearity::LeakyReLU) == doctest::Approx(1.4141428569978354));
  CHECK(fan_in_and_fan_out(Tensor::empty({8, 3, 3, 3})) == std::pair<int64_t, int64_t>{27, 72});
  CHECK(fan_in_and_fan_out(Tensor::empty({5, 7})) == std::pair<int64_t, int64_t>{7, 5});
  CHECK_THROWS_AS(fan_in_and_fan_out(Tensor::empty({5})), Error);
}

TEST_CASE("Conv2d and Linear draw weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), reproducibly") {
  Conv2dConfig grouped;
  grouped.groups = 2;
  Generator gen(42);
  Conv2d conv(4, 6, {3, 5}, grouped, &gen);
  CHECK(conv.weight.shape() == Shape{6, 2, 3, 5});
  const double bound = 1.0 / std::sqrt(2.0 * 3 * 5);  // fan_in = in/groups * kh * kw
  // Exactly the generator's next uniforms, scaled: weight first, then bias (PyTorch's order).
  Generator replay(42);
  const std::vector<double> w_expect = vals(Tensor::rand({6, 2, 3, 5}, replay, -bound, bound));
  const std::vector<double> b_expect = vals(Tensor::rand({6}, replay, -bound, bound));
  const std::vector<double> w = vals(conv.weight), b = vals(conv.bias);
  REQUIRE(w.size() == w_expect.size());
  for (size_t i = 0; i < w.size(); ++i) REQUIRE(w[i] == doctest::Approx(w_expect[i]).epsilon(1e-6));
  for (size_t i = 0; i < b.size(); ++i) REQUIRE(b[i] == doctest::Approx(b_expect[i]).epsilon(1e-6));
  double lo = 0, hi = 0;
  for (double v : w) lo = std::min(lo, v), hi = std::max(hi, v);
  CHECK(lo >= -bound);
  CHECK(hi <= bound);
  CHECK(hi - lo > 1.5 * bound);  // spread over the interval, not squeezed

  Linear lin(10, 3, true, &gen);
  for (double v : vals(lin.weight)) CHECK(std::abs(v) <= 1.0 / std::sqrt(10.0));
  CHECK(lin.forward(Tensor::ones({4, 10})).shape() == Shape{4, 3});

  // Without a generator, layers draw from the module-level one: manual_seed makes that repeatable.
  manual_seed(7);
  const std::vector<double> first = vals(Conv2d(3, 4, 3).weight);
  manual_seed(7);
  CHECK(vals(Conv2d(3, 4, 3).weight) == first);
  CHECK(vals(Conv2d(3, 4, 3).weight) != first);
}

TEST_CASE("init: kaiming and xavier have the right spread") {
  Generator gen(3);
  Tensor w = Tensor::empty({256, 128, 3, 3});
  const double fan_in = 128 * 9, fan_out = 256 * 9;
  auto stats = [](const Tensor& t) {
    const auto v = vals(t);
    double s = 0, s2 = 0, mx = 0;
    for (double x : v) s += x, s2 += x * x, mx = std::max(mx, std::abs(x));
    const double mean = s / v.size();
    return std::array<double, 3>{mean, std::sqrt(s2 / v.size() - mean * mean), mx};
  };
  init::kaiming_normal_(w, gen, 0.0, init::FanMode::FanOut, init::Nonlinearity::ReLU);
  auto st = stats(w);
  CHECK(std::abs(st[0]) < 1e-3);
  CHECK(st[1] == doctest::Approx(std::sqrt(2.0 / fan_out)).epsilon(0.01));
  init::kaiming_uniform_(w, gen);  // a = 0, fan_in, leaky_relu: bound sqrt(2) * sqrt(3 / fan_in)
  st = stats(w);
  CHECK(st[2] <= std::sqrt(6.0 / fan_in));
  CHECK(st[1] == doctest::Approx(std::sqrt(2.0 / fan_in)).epsilon(0.01));
  init::xavier_uniform_(w, gen);
  st = stats(w);
  CHECK(st[2] <= std::sqrt(6.0 / (fan_in + fan_out)));
  CHECK(st[1] == doctest::Approx(std::sqrt(2.0 / (fan_in + fan_out))).epsilon(0.01));
  init::normal_(w, gen, 3.0, 0.5);
  st = stats(w);
  CHECK(st[0] == doctest::Approx(3.0).epsilon(0.001));
  CHECK(st[1] == doctest::Approx(0.5).epsilon(0.01));
  init::zeros_(w);
  CHECK(stats(w)[2] == 0.0);
}

// ---------------------------------------------------------------- layers

TEST_CASE("padding, pooling and upsampling layers give PyTorch's values") {
  const Tensor x = Tensor::from_vector<float>({1, 2, 3, 4}, {1, 1, 2, 2});
  // Expected values printed by torch 1.13 for the same inputs.
  CHECK(vals(ReflectionPad2d(1).forward(x)) == std::vector<double>{4, 3, 4, 3, 2, 1, 2, 1, 4, 3, 4, 3, 2, 1, 2, 1});
  CHECK(vals(ZeroPad2d(1, 0, 0, 1).forward(x)) == std::vector<double>{0, 1, 2, 0, 3, 4, 0, 0, 0});
  CHECK(vals(Upsample::scale(2)->forward(x)) == std::vector<double>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  const std::vector<double> bilinear{1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4};
  CHECK(vals(Upsample::scale(2, UpsampleMode::Bilinear)->forward(x)) == bilinear);
  CHECK(vals(Upsample::size({4, 4})->forward(x)) == bilinear);
  CHECK(vals(Upsample::size({4, 6}, UpsampleMode::Nearest)->forward(x)) ==
        std::vector<double>{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4});
  CHECK_THROWS_WITH_AS(Upsample::size({3, 3}, UpsampleMode::Nearest)->forward(x), doctest::Contains("integer scale"),
                       Error);

  const Tensor a = reshape(Tensor::arange(16), {1, 1, 4, 4});
  CHECK(vals(MaxPool2d(2).forward(a)) == std::vector<double>{5, 7, 13, 15});
  CHECK(vals(AvgPool2d(2).forward(a)) == std::vector<double>{2.5, 4.5, 10.5, 12.5});
  PoolConfig c;
  c.stride = 2;
  c.padding = 1;
  const auto with_pad = vals(AvgPool2d(3, c).forward(a));
  CHECK(with_pad[0] == doctest::Approx(10.0 / 9));
  CHECK(with_pad[3] == doctest::Approx(10.0));
  c.count_include_pad = false;
  CHECK(vals(AvgPool2d(3, c).forward(a)) == std::vector<double>{2.5, 4, 8.5, 10});
}

TEST_CASE("activation and normalization layers match their functional ops") {
  Generator gen(9);
  const Tensor x = Tensor::randn({2, 3, 4, 5}, gen);
  CHECK(vals(ReLU().forward(x)) == vals(relu(x)));
  CHECK(vals(LeakyReLU(0.2).forward(x)) == vals(leaky_relu(x, 0.2)));
  CHECK(vals(Tanh().forward(x)) == vals(tanh(x)));
  CHECK(vals(Sigmoid().forward(x)) == vals(sigmoid(x)));

  InstanceNorm2d plain(3);
  CHECK(plain.parameters().empty());
  InstanceNorm2d affine(3, 1e-5, true);
  CHECK(vals(affine.weight) == std::vector<double>{1, 1, 1});
  CHECK(vals(affine.bias) == std::vector<double>{0, 0, 0});
  CHECK(vals(affine.forward(x)) == vals(plain.forward(x)));  // identity affine at init
  // Each (n, c) plane comes out with mean 0 and (biased) variance 1.
  const Tensor y = plain.forward(x);
  for (double m : vals(mean(y, {2, 3}))) CHECK(m == doctest::Approx(0).epsilon(1e-5).scale(1));
  for (double v : vals(var(y, {2, 3}, 0))) CHECK(v == doctest::Approx(1).epsilon(1e-3));
  CHECK_THROWS_WITH_AS(plain.forward(Tensor::zeros({1, 4, 2, 2})), doctest::Contains("expected an input [N, 3, H, W]"),
                       Error);
}

TEST_CASE("Sequential runs its children in order and indexes them") {
  Sequential s;
  s.push_back(std::make_shared<ZeroPad2d>(1)).push_back(std::make_shared<MaxPool2d>(2));
  CHECK(s.size() == 2);
  CHECK(s[1]->name() == "MaxPool2d");
  CHECK_THROWS_WITH_AS(s[2], doctest::Contains("index 2 out of range"), Error);
  const Tensor x = Tensor::from_vector<float>({-1, -2, -3, -4}, {1, 1, 2, 2});
  CHECK(vals(s.forward(x)) == std::vector<double>{0, 0, 0, 0});  // the zero border wins every max
  CHECK(vals(s(x)) == vals(s.forward(x)));
}
