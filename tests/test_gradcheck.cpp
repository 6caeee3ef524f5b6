// One table of every differentiable op: each row builds float64 inputs (some non-contiguous,
// some broadcast, odd sizes) and checks backward against central finite differences.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>

#include "autograd/gradcheck.h"
#include "autograd/nn_ops.h"
#include "layers/layers.h"
#include "layers/spectral_norm.h"
#include "training/discriminator.h"
#include "tensor/random.h"

using namespace sn;

namespace {

// How an input's values are drawn, so no element sits at a kink of the op being checked.
enum class Values {
  Normal,      // N(0, 1)
  Positive,    // in [0.5, 1.5]: log, sqrt, pow bases, divisors
  AwayFromZero,// |x| >= 0.2: relu, abs, leaky_relu
  Distinct     // all different by >= 0.1 and never on a multiple of 0.1: max, pools, clamp
};

struct In {
  Shape shape;
  Values values = Values::Normal;
  bool non_contiguous = false;  // build as a transposed (or strided) view
  bool grad = true;
};

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
struct Case {
  const char* name;
  std::vector<In> inputs;
  Fn fn;
};

// `shift` keeps Distinct inputs of one op apart from each other (no ties between operands).
Tensor make_values(const Shape& shape, Values kind, Generator& gen, double shift = 0.0) {
  const int64_t n = numel(shape);
  std::vector<double> v(n);
  if (kind == Values::Distinct) {
    std::vector<int64_t> perm(n);
    for (int64_t i = 0; i < n; ++i) perm[i] = i;
    for (int64_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[gen.below(i + 1)]);
    for (int64_t i = 0; i < n; ++i) v[i] = (perm[i] - n / 2) * 0.1 + 0.05 + shift;
  } else {
    for (double& x : v) {
      const double z = gen.normal();
      x = kind == Values::Normal     ? z
          : kind == Values::Positive ? 0.5 + gen.uniform()
                                     : (z < 0 ? -0.2 : 0.2) + z;
    }
  }
  return Tensor::from_vector(v, shape);
}

// A non-contiguous view with the requested shape: transposed storage for >= 2 dims,
// every other element of a double-length buffer for 1 dim.
Tensor make_input(const In& in, Generator& gen, double shift) {
  Tensor t;
  if (!in.non_contiguous || in.shape.empty()) {
    t = make_values(in.shape, in.values, gen, shift);
  } else if (in.shape.size() == 1) {
    t = make_values({in.shape[0] * 2}, in.values, gen, shift);
    t = t.as_strided(in.shape, {2}, 0);
  } else {
    Shape swapped = in.shape;
    const size_t a = swapped.size() - 1, b = swapped.size() - 2;
    std::swap(swapped[a], swapped[b]);
    t = make_values(swapped, in.values, gen, shift);
    Shape st = t.strides();
    std::swap(st[a], st[b]);
    t = t.as_strided(in.shape, st, 0);
    REQUIRE((!t.is_contiguous() || in.shape[a] == 1 || in.shape[b] == 1));
  }
  if (in.grad) t.set_requires_grad(true);
  return t;
}

Conv2dOptions conv_opt(std::array<int64_t, 2> stride, std::array<int64_t, 2> pad,
                       std::array<int64_t, 2> dil, int64_t groups) {
  Conv2dOptions o;
  o.stride = stride;
  o.padding = pad;
  o.dilation = dil;
  o.groups = groups;
  return o;
}

Pool2dOptions pool_opt(std::array<int64_t, 2> k, std::array<int64_t, 2> st, std::array<int64_t, 2> pad,
                       bool ceil, bool include_pad = true) {
  Pool2dOptions o;
  o.kernel = k;
  o.stride = st;
  o.padding = pad;
  o.ceil_mode = ceil;
  o.count_include_pad = include_pad;
  return o;
}

const std::vector<Case>& cases() {
  using V = Values;
  static const std::vector<Case> table = {
      // ---- elementwise, with broadcasting and strided inputs ----
      {"add broadcast", {{{2, 3, 4}}, {{3, 1}}}, [](auto& x) { return add(x[0], x[1]); }},
      {"sub broadcast rank", {{{2, 3}, V::Normal, true}, {{3}}}, [](auto& x) { return sub(x[0], x[1]); }},
      {"mul non-contiguous", {{{3, 4}, V::Normal, true}, {{3, 4}}}, [](auto& x) { return mul(x[0], x[1]); }},
      {"div", {{{2, 5}}, {{5}, V::Positive}}, [](auto& x) { return div(x[0], x[1]); }},
      {"pow tensor", {{{3, 2}, V::Positive}, {{3, 2}}}, [](auto& x) { return pow(x[0], x[1]); }},
      {"pow scalar", {{{7}, V::Positive, true}}, [](auto& x) { return pow(x[0], 2.5); }},
      {"maximum", {{{4, 3}, V::Distinct}, {{3}, V::Distinct}}, [](auto& x) { return maximum(x[0], x[1]); }},
      {"minimum", {{{4, 3}, V::Distinct}, {{4, 3}, V::Distinct}}, [](auto& x) { return minimum(x[0], x[1]); }},
      {"neg", {{{3, 3}, V::Normal, true}}, [](auto& x) { return neg(x[0]); }},
      {"exp", {{{2, 3}}}, [](auto& x) { return exp(x[0]); }},
      {"log", {{{2, 3}, V::Positive, true}}, [](auto& x) { return log(x[0]); }},
      {"sqrt", {{{5}, V::Positive}}, [](auto& x) { return sqrt(x[0]); }},
      {"abs", {{{2, 4}, V::AwayFromZero}}, [](auto& x) { return abs(x[0]); }},
      {"square", {{{3, 2}}}, [](auto& x) { return square(x[0]); }},
      {"relu", {{{3, 5}, V::AwayFromZero, true}}, [](auto& x) { return relu(x[0]); }},
      {"leaky_relu", {{{3, 5}, V::AwayFromZero}}, [](auto& x) { return leaky_relu(x[0], 0.2); }},
      {"tanh", {{{2, 3}}}, [](auto& x) { return tanh(x[0]); }},
      {"sigmoid", {{{2, 3}, V::Normal, true}}, [](auto& x) { return sigmoid(x[0]); }},
      {"clamp", {{{4, 4}, V::Distinct}}, [](auto& x) { return clamp(x[0], -0.3, 0.4); }},
      {"scalar operators", {{{2, 3}}},
       [](auto& x) { return (2.0 - x[0] * 3.0 + 1.5) / 4.0 + 0.5 * x[0] - (x[0] - 1.0); }},
      {"scalar tensor broadcast", {{{2, 3}}, {{}}}, [](auto& x) { return x[0] * x[1] + x[1]; }},
      // ---- reductions ----
      {"sum all", {{{2, 3, 4}, V::Normal, true}}, [](auto& x) { return sum(x[0]); }},
      {"sum dims keepdim", {{{2, 3, 4}}}, [](auto& x) { return sum(x[0], {0, 2}, true); }},
      {"mean dim", {{{3, 5}, V::Normal, true}}, [](auto& x) { return mean(x[0], {1}); }},
      {"var unbiased", {{{3, 5}}}, [](auto& x) { return var(x[0], {-1}); }},
      {"var biased keepdim", {{{2, 3, 4}, V::Normal, true}}, [](auto& x) { return var(x[0], {0, 2}, 0, true); }},
      {"max all", {{{3, 4}, V::Distinct}}, [](auto& x) { return max(x[0]); }},
      {"max dim", {{{3, 4}, V::Distinct, true}}, [](auto& x) { return max(x[0], {1}); }},
      {"min keepdim", {{{2, 3, 2}, V::Distinct}}, [](auto& x) { return min(x[0], {0}, true); }},
      // ---- views ----
      {"reshape non-contiguous", {{{3, 4}, V::Normal, true}}, [](auto& x) { return reshape(x[0], {2, -1}); }},
      {"view", {{{2, 6}}}, [](auto& x) { return view(x[0], {3, 2, 2}); }},
      {"flatten", {{{2, 3, 2}}}, [](auto& x) { return flatten(x[0], 1); }},
      {"permute", {{{2, 3, 4}}}, [](auto& x) { return mul(permute(x[0], {2, 0, 1}), permute(x[0], {2, 0, 1})); }},
      {"transpose", {{{3, 2}, V::Normal, true}}, [](auto& x) { return transpose(x[0], 0, 1); }},
      {"slice step", {{{7, 3}}}, [](auto& x) { return slice(x[0], 0, 1, 6, 2); }},
      {"select", {{{3, 4}}}, [](auto& x) { return select(x[0], 1, -1); }},
      {"expand", {{{3, 1}}}, [](auto& x) { return expand(x[0], {2, 3, 4}); }},
      {"unsqueeze squeeze", {{{3, 2}}}, [](auto& x) { return squeeze(unsqueeze(x[0], 1), 1) * unsqueeze(x[0], 0); }},
      {"contiguous", {{{3, 2}, V::Normal, true}}, [](auto& x) { return contiguous(x[0]); }},
      // ---- matmul and joining ----
      {"matmul 2d", {{{3, 4}, V::Normal, true}, {{4, 5}}}, [](auto& x) { return matmul(x[0], x[1]); }},
      {"matmul batched broadcast", {{{2, 1, 3, 4}}, {{3, 4, 2}, V::Normal, true}}, [](auto& x) { return matmul(x[0], x[1]); }},
      {"matmul vec-mat", {{{4}}, {{4, 3}}}, [](auto& x) { return matmul(x[0], x[1]); }},
      {"matmul mat-vec", {{{2, 3, 4}}, {{4}}}, [](auto& x) { return matmul(x[0], x[1]); }},
      {"matmul vec-vec", {{{5}}, {{5}, V::Normal, true}}, [](auto& x) { return matmul(x[0], x[1]); }},
      {"cat", {{{2, 3}}, {{4, 3}, V::Normal, true}}, [](auto& x) { return cat({x[0], x[1]}, 0); }},
      {"stack", {{{2, 3}}, {{2, 3}}}, [](auto& x) { return stack({x[0], x[1]}, 1); }},
      // ---- image ops ----
      {"conv2d", {{{2, 3, 6, 5}}, {{4, 3, 3, 3}}, {{4}}}, [](auto& x) { return conv2d(x[0], x[1], x[2]); }},
      {"conv2d stride pad", {{{1, 2, 7, 5}, V::Normal, true}, {{3, 2, 3, 3}}, {{3}}},
       [](auto& x) { return conv2d(x[0], x[1], x[2], conv_opt({2, 2}, {1, 1}, {1, 1}, 1)); }},
      {"conv2d dilation asym", {{{1, 2, 8, 7}}, {{2, 2, 3, 2}}},
       [](auto& x) { return conv2d(x[0], x[1], Tensor(), conv_opt({1, 2}, {2, 0}, {2, 1}, 1)); }},
      {"conv2d groups", {{{1, 4, 5, 5}}, {{6, 2, 3, 3}}, {{6}}},
       [](auto& x) { return conv2d(x[0], x[1], x[2], conv_opt({1, 1}, {1, 1}, {1, 1}, 2)); }},
      {"conv2d depthwise", {{{2, 3, 5, 4}}, {{3, 1, 3, 3}, V::Normal, true}},
       [](auto& x) { return conv2d(x[0], x[1], Tensor(), conv_opt({1, 1}, {1, 1}, {1, 1}, 3)); }},
      {"conv2d 1x1", {{{1, 3, 3, 4}}, {{2, 3, 1, 1}}, {{2}}}, [](auto& x) { return conv2d(x[0], x[1], x[2]); }},
      {"conv2d_relu", {{{2, 3, 6, 5}}, {{4, 3, 3, 3}}, {{4}}}, [](auto& x) { return conv2d_relu(x[0], x[1], x[2]); }},
      {"conv2d_relu stride pad groups", {{{1, 4, 7, 5}, V::Normal, true}, {{6, 2, 3, 3}}, {{6}}},
       [](auto& x) { return conv2d_relu(x[0], x[1], x[2], conv_opt({2, 1}, {1, 1}, {1, 1}, 2)); }},
      {"max_pool2d", {{{2, 2, 4, 6}, V::Distinct}}, [](auto& x) { return max_pool2d(x[0], pool_opt({2, 2}, {0, 0}, {0, 0}, false)); }},
      {"max_pool2d pad ceil", {{{1, 2, 7, 5}, V::Distinct, true}},
       [](auto& x) { return max_pool2d(x[0], pool_opt({3, 3}, {2, 2}, {1, 1}, true)); }},
      {"avg_pool2d", {{{1, 2, 6, 4}}}, [](auto& x) { return avg_pool2d(x[0], pool_opt({2, 2}, {0, 0}, {0, 0}, false)); }},
      {"avg_pool2d pad ceil exclude", {{{1, 2, 7, 5}, V::Normal, true}},
       [](auto& x) { return avg_pool2d(x[0], pool_opt({3, 3}, {2, 2}, {1, 1}, true, false)); }},
      {"upsample nearest", {{{1, 2, 3, 2}}}, [](auto& x) { return upsample_nearest2d(x[0], 2, 3); }},
      {"upsample bilinear up", {{{1, 2, 3, 4}, V::Normal, true}}, [](auto& x) { return upsample_bilinear2d(x[0], 7, 6); }},
      {"upsample bilinear down", {{{1, 1, 7, 5}}}, [](auto& x) { return upsample_bilinear2d(x[0], 3, 4); }},
      {"pad zero", {{{1, 2, 3, 4}}}, [](auto& x) { return pad2d(x[0], {1, 2, 0, 3}, PadMode::Zero); }},
      {"pad reflect", {{{2, 1, 4, 5}, V::Normal, true}}, [](auto& x) { return pad2d(x[0], {2, 1, 3, 1}, PadMode::Reflect); }},
      {"instance_norm", {{{2, 3, 4, 3}}}, [](auto& x) { return instance_norm(x[0]); }},
      {"instance_norm affine", {{{2, 3, 3, 5}, V::Normal, true}, {{3}}, {{3}}},
       [](auto& x) { return instance_norm(x[0], x[1], x[2]); }},
      {"linear", {{{2, 3, 4}}, {{5, 4}}, {{5}}}, [](auto& x) { return linear(x[0], x[1], x[2]); }},
      {"linear no bias", {{{3, 4}, V::Normal, true}, {{2, 4}}}, [](auto& x) { return linear(x[0], x[1]); }},
      {"mse_loss", {{{2, 3}}, {{2, 3}}}, [](auto& x) { return mse_loss(x[0], x[1]); }},
      {"l1_loss", {{{2, 3}, V::AwayFromZero}, {{2, 3}, V::Normal, false, false}},
       [](auto& x) { return l1_loss(add(x[0], x[1]), x[1]); }},
      // ---- spectral normalisation: W / (u . W v); positive u, v keep sigma away from 0 ----
      {"spectral_normalized", {{{3, 2, 2, 2}}, {{3}, V::Positive, false, false}, {{8}, V::Positive, false, false}},
       [](auto& x) { return spectral_normalized(x[0], x[1], x[2]); }},
      {"spectral_normalized all inputs", {{{4, 3}, V::Normal, true}, {{4}, V::Positive}, {{3}, V::Positive, true}},
       [](auto& x) { return spectral_normalized(x[0], x[1], x[2]); }},
      {"l2_normalize", {{{5}, V::Normal, true}}, [](auto& x) { return l2_normalize(x[0]); }},
  };
  return table;
}

}  // namespace

TEST_CASE("gradcheck: every differentiable op against central differences (float64)") {
  for (const Case& c : cases()) {
    SUBCASE(c.name) {
      Generator gen(42);
      std::vector<Tensor> xs;
      for (const In& in : c.inputs) xs.push_back(make_input(in, gen, 0.01 * static_cast<double>(xs.size())));
      const GradcheckResult r = gradcheck(c.fn, xs);
      INFO(c.name, ": ", r.message);
      CHECK(r.ok);
    }
  }
}

TEST_CASE("gradcheck catches a wrong gradient") {
  // An "op" whose value is x^2 but whose recorded gradient is 1 must be reported.
  Generator gen(1);
  Tensor x = Tensor::randn({4}, gen, DType::Float64);
  x.set_requires_grad(true);
  auto inconsistent = [](const std::vector<Tensor>& xs) {
    const Tensor v = square(xs[0]).detach();
    return add(v, sub(xs[0], xs[0].detach()));  // value x^2, gradient 1
  };
  const GradcheckResult bad = gradcheck(inconsistent, {x});
  CHECK_FALSE(bad.ok);
  CHECK(bad.message.find("analytic") != std::string::npos);
}

// ---------------------------------------------------------------- layers
//
// Every layer of layers/ (and the PatchGAN discriminator built from them), converted to float64
// with Module::to, checked with respect to its input and to every parameter it owns. Inputs are
// drawn like the op table's (kinks avoided).

namespace {

struct LayerCase {
  const char* name;
  In input;
  std::function<std::shared_ptr<Module>(Generator*)> make;
};

// Spectral norm in eval mode: no power iteration, so u, v (and the function) stay fixed across
// the finite-difference evaluations.
std::shared_ptr<Module> eval_mode(std::shared_ptr<Module> m) {
  m->eval();
  return m;
}

std::shared_ptr<Module> patch_discriminator(Generator* g, int64_t base, int64_t layers, bool spectral_norm) {
  DiscriminatorConfig cfg;
  cfg.base = base;
  cfg.layers = layers;
  cfg.spectral_norm = spectral_norm;
  return eval_mode(std::make_shared<PatchDiscriminator>(cfg, g));
}

std::vector<LayerCase> layer_cases() {
  using V = Values;
  auto conv = [](int64_t in, int64_t out, Size2 k, Conv2dConfig cfg) {
    return [=](Generator* g) { return std::make_shared<Conv2d>(in, out, k, cfg, g); };
  };
  Conv2dConfig strided;
  strided.stride = 2;
  strided.padding = {1, 0};
  Conv2dConfig grouped;
  grouped.groups = 2;
  grouped.dilation = {2, 1};
  grouped.bias = false;
  PoolConfig pool_pad;
  pool_pad.stride = 2;
  pool_pad.padding = 1;
  pool_pad.ceil_mode = true;
  return {
      {"Conv2d 3x3", {{2, 3, 5, 6}}, conv(3, 4, 3, {})},
      {"Conv2d strided padded", {{1, 2, 7, 5}, V::Normal, true}, conv(2, 3, {3, 2}, strided)},
      {"Conv2d grouped dilated no bias", {{1, 4, 6, 5}}, conv(4, 6, 3, grouped)},
      {"Linear", {{3, 5}, V::Normal, true}, [](Generator* g) { return std::make_shared<Linear>(5, 4, true, g); }},
      {"Linear no bias 3-d", {{2, 3, 4}}, [](Generator* g) { return std::make_shared<Linear>(4, 2, false, g); }},
      {"ReLU", {{2, 3, 4}, V::AwayFromZero}, [](Generator*) { return std::make_shared<ReLU>(); }},
      {"LeakyReLU", {{3, 5}, V::AwayFromZero, true}, [](Generator*) { return std::make_shared<LeakyReLU>(0.2); }},
      {"Tanh", {{2, 7}}, [](Generator*) { return std::make_shared<Tanh>(); }},
      {"Sigmoid", {{3, 3}, V::Normal, true}, [](Generator*) { return std::make_shared<Sigmoid>(); }},
      {"MaxPool2d", {{1, 2, 6, 4}, V::Distinct}, [](Generator*) { return std::make_shared<MaxPool2d>(2); }},
      {"MaxPool2d pad ceil", {{1, 2, 7, 5}, V::Distinct, true},
       [=](Generator*) { return std::make_shared<MaxPool2d>(3, pool_pad); }},
      {"AvgPool2d", {{2, 1, 5, 6}}, [](Generator*) { return std::make_shared<AvgPool2d>(Size2{2, 3}); }},
      {"Upsample nearest", {{1, 2, 3, 2}, V::Normal, true},
       [](Generator*) { return Upsample::scale({2, 3}, UpsampleMode::Nearest); }},
      {"Upsample bilinear", {{1, 2, 3, 3}}, [](Generator*) { return Upsample::scale(2, UpsampleMode::Bilinear); }},
      {"Upsample bilinear to size", {{1, 1, 5, 4}}, [](Generator*) { return Upsample::size({3, 7}); }},
      {"InstanceNorm2d", {{2, 3, 4, 3}}, [](Generator*) { return std::make_shared<InstanceNorm2d>(3); }},
      {"InstanceNorm2d affine", {{2, 3, 3, 4}, V::Normal, true},
       [](Generator*) { return std::make_shared<InstanceNorm2d>(3, 1e-5, true); }},
      {"ReflectionPad2d", {{1, 2, 4, 5}, V::Normal, true},
       [](Generator*) { return std::make_shared<ReflectionPad2d>(2, 1, 3, 0); }},
      {"ZeroPad2d", {{2, 1, 3, 3}}, [](Generator*) { return std::make_shared<ZeroPad2d>(1); }},
      {"Sequential", {{1, 2, 5, 5}},
       [](Generator* g) {
         Conv2dConfig pad;
         pad.padding = 1;
         return std::make_shared<Sequential>(std::initializer_list<std::shared_ptr<Module>>{
             std::make_shared<ReflectionPad2d>(1), std::make_shared<Conv2d>(2, 3, 3, Conv2dConfig{}, g),
             std::make_shared<InstanceNorm2d>(3, 1e-5, true), std::make_shared<LeakyReLU>(0.2),
             Upsample::scale(2), std::make_shared<Conv2d>(3, 2, 3, pad, g)});
       }},
      // (Capture-free makers: GCC 12 warns falsely, -Wmaybe-uninitialized, on rows whose
      // std::function holds a capturing lambda.)
      {"SpectralNormConv2d", {{2, 3, 5, 6}},
       [](Generator* g) {
         Conv2dConfig cfg;
         cfg.padding = 1;
         return eval_mode(std::make_shared<SpectralNormConv2d>(3, 4, 3, cfg, g));
       }},
      {"SpectralNormConv2d strided no bias", {{1, 2, 7, 5}, V::Normal, true},
       [](Generator* g) {
         Conv2dConfig cfg;
         cfg.stride = 2;
         cfg.padding = {1, 0};
         cfg.bias = false;
         return eval_mode(std::make_shared<SpectralNormConv2d>(2, 3, Size2{3, 2}, cfg, g));
       }},
      // PatchGAN: convs, InstanceNorm, LeakyReLU (inputs away from its kink are not controllable
      // inside the network; a kink within eps of a hidden value is improbable at these sizes).
      {"PatchDiscriminator layers 2", {{1, 3, 13, 12}}, [](Generator* g) { return patch_discriminator(g, 2, 2, false); }},
      {"PatchDiscriminator spectral norm", {{2, 3, 8, 9}, V::Normal, true},
       [](Generator* g) { return patch_discriminator(g, 2, 1, true); }},
  };
}

}  // namespace

TEST_CASE("gradcheck: every layer, with respect to its input and its parameters (float64)") {
  for (const LayerCase& c : layer_cases()) {
    SUBCASE(c.name) {
      Generator gen(7);
      std::shared_ptr<Module> layer = c.make(&gen);
      layer->to(DType::Float64);
      std::vector<Tensor> xs{make_input(c.input, gen, 0.0)};
      for (const Tensor& p : layer->parameters()) xs.push_back(p);
      const GradcheckResult r = gradcheck([&](const std::vector<Tensor>& in) { return layer->forward(in[0]); }, xs);
      INFO(c.name, ": ", r.message);
      CHECK(r.ok);
    }
  }
}
