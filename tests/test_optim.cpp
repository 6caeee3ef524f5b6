// Optimizers (update rules by hand and against PyTorch), state save/restore that resumes
// bit-identically, gradient clipping and learning-rate schedules.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "layers/layers.h"
#include "optim/optim.h"
#include "weights/checkpoint.h"

using namespace sn;

namespace {

std::vector<double> vals(const Tensor& t) { return t.to_vector<double>(); }

Tensor param(const std::vector<double>& v, const Shape& shape, DType dt = DType::Float64) {
  Tensor t = Tensor::from_doubles(v, shape, dt);
  t.set_requires_grad(true);
  return t;
}

// The gradient the PyTorch reference script used at step t (0-based): g = (2p - 1) * (t + 1) / 2,
// computed in the parameter's dtype.
void set_test_grads(const std::vector<Tensor>& ps, int t) {
  for (const Tensor& p : ps) p.set_grad(mul_scalar(add_scalar(mul_scalar(p.detach(), 2.0), -1.0), (t + 1) * 0.5));
}

std::vector<Tensor> reference_params(DType dt) {
  return {param({1.0, -2.0, 3.0, 0.5}, {4}, dt), param({0.25, -0.75, 1.5, -0.125}, {2, 2}, dt)};
}

std::vector<double> flat(const std::vector<Tensor>& ps) {
  std::vector<double> out;
  for (const Tensor& p : ps)
    for (double v : vals(p)) out.push_back(v);
  return out;
}

}  // namespace

// ---------------------------------------------------------------- update rules by hand

TEST_CASE("SGD: plain, momentum (no dampening on the first step), nesterov, weight decay, by hand") {
  Tensor p = param({1.0, -2.0}, {2});
  SGD plain({p}, {.lr = 0.1});
  p.set_grad(Tensor::from_doubles({0.5, -1.0}, {2}, DType::Float64));
  plain.step();
  CHECK(vals(p) == std::vector<double>{1.0 - 0.1 * 0.5, -2.0 + 0.1 * 1.0});

  // Momentum 0.9, dampening 0.5, weight decay 0.1, constant gradient 1.
  Tensor q = param({2.0}, {1});
  SGD mom({q}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.5, .weight_decay = 0.1});
  double pv = 2.0, buf = 0.0;
  for (int t = 0; t < 4; ++t) {
    q.set_grad(Tensor::from_doubles({1.0}, {1}, DType::Float64));
    mom.step();
    const double d = 1.0 + 0.1 * pv;
    buf = t == 0 ? d : 0.9 * buf + 0.5 * d;
    pv -= 0.1 * buf;
    CHECK(vals(q)[0] == doctest::Approx(pv).epsilon(1e-15));
  }

  Tensor r = param({2.0}, {1});
  SGD nesterov({r}, {.lr = 0.1, .momentum = 0.9, .nesterov = true});
  pv = 2.0, buf = 0.0;
  for (int t = 0; t < 4; ++t) {
    const double g = pv * pv;  // a gradient that changes with p
    r.set_grad(Tensor::from_doubles({g}, {1}, DType::Float64));
    nesterov.step();
    buf = t == 0 ? g : 0.9 * buf + g;
    pv -= 0.1 * (g + 0.9 * buf);
    CHECK(vals(r)[0] == doctest::Approx(pv).epsilon(1e-15));
  }
  CHECK_THROWS_WITH_AS(SGD({r}, {.lr = 0.1, .nesterov = true}), doctest::Contains("nesterov"), Error);
}

TEST_CASE("Adam: bias correction and eps placement, by hand") {
  const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  Tensor p = param({1.0, -3.0, 0.0}, {3});
  Adam adam({p}, {.lr = lr});
  // First step: m/(1-b1) = g and sqrt(v/(1-b2)) = |g|, so p moves by lr * g / (|g| + eps).
  p.set_grad(Tensor::from_doubles({0.2, -4.0, 0.0}, {3}, DType::Float64));
  adam.step();
  const std::vector<double> after1 = vals(p);
  CHECK(after1[0] == doctest::Approx(1.0 - lr * 0.2 / (0.2 + eps)).epsilon(1e-15));
  CHECK(after1[1] == doctest::Approx(-3.0 + lr * 4.0 / (4.0 + eps)).epsilon(1e-15));
  CHECK(after1[2] == 0.0);

  // Second step with another gradient, restated in double.
  const double g1 = 0.2, g2 = -0.6;
  p.set_grad(Tensor::from_doubles({g2, 1.0, 0.0}, {3}, DType::Float64));
  adam.step();
  const double m = b1 * (1 - b1) * g1 + (1 - b1) * g2;
  const double v = b2 * (1 - b2) * g1 * g1 + (1 - b2) * g2 * g2;
  const double expect = after1[0] - lr / (1 - b1 * b1) * m / (std::sqrt(v) / std::sqrt(1 - b2 * b2) + eps);
  CHECK(vals(p)[0] == doctest::Approx(expect).epsilon(1e-14));
}

TEST_CASE("AdamW decays the weights directly; Adam's weight decay goes through the gradient") {
  // With zero gradient, AdamW only shrinks p by (1 - lr * wd) per step.
  Tensor p = param({2.0, -1.0}, {2});
  AdamW adamw({p}, {.lr = 0.1, .weight_decay = 0.5});
  for (int t = 0; t < 3; ++t) {
    p.set_grad(Tensor::zeros({2}, DType::Float64));
    adamw.step();
  }
  CHECK(vals(p)[0] == doctest::Approx(2.0 * std::pow(0.95, 3)).epsilon(1e-15));
  CHECK(vals(p)[1] == doctest::Approx(-1.0 * std::pow(0.95, 3)).epsilon(1e-15));
  CHECK(AdamW::default_options().weight_decay == 0.01);

  // Adam turns the decay into a gradient wd * p, which its normalisation makes a step of ~lr.
  Tensor q = param({2.0}, {1});
  Adam adam({q}, {.lr = 0.1, .weight_decay = 0.5});
  q.set_grad(Tensor::zeros({1}, DType::Float64));
  adam.step();
  CHECK(vals(q)[0] == doctest::Approx(2.0 - 0.1 * 1.0 / (1.0 + 1e-8)).epsilon(1e-15));
}

TEST_CASE("amsgrad keeps the largest second moment") {
  Tensor p = param({0.0}, {1});
  Adam adam({p}, {.lr = 0.1, .beta2 = 0.5, .amsgrad = true});
  for (double g : {10.0, 0.0}) {
    p.set_grad(Tensor::from_doubles({g}, {1}, DType::Float64));
    adam.step();
  }
  // After step 2: v = 0.5 * 0.5 * 100 = 25 but v_max = 50 (step 1), m = 0.9 * 0.1 * 10 = 0.9.
  const double p1 = -0.1 * 10 / (10 + 1e-8);
  const double expect = p1 - 0.1 / (1 - 0.81) * 0.9 / (std::sqrt(50.0) / std::sqrt(1 - 0.25) + 1e-8);
  CHECK(vals(p)[0] == doctest::Approx(expect).epsilon(1e-14));
}

TEST_CASE("Adam without amsgrad saves only the state it keeps, and a copy continues identically") {
  Tensor p = param({1.0, -2.0}, {2});
  Adam a({p}, {.lr = 0.1});
  p.set_grad(Tensor::from_doubles({0.5, -1.0}, {2}, DType::Float64));
  a.step();
  const TensorDict sd = a.state_dict();
  CHECK(sd.contains("state.0.exp_avg"));
  CHECK(sd.contains("state.0.exp_avg_sq"));
  CHECK_FALSE(sd.contains("state.0.max_exp_avg_sq"));

  Tensor q = param(vals(p), {2});
  Adam b({q}, {.lr = 0.1});
  b.load_state_dict(sd);
  for (Tensor* t : {&p, &q}) t->set_grad(Tensor::from_doubles({0.25, 3.0}, {2}, DType::Float64));
  a.step();
  b.step();
  CHECK(vals(p) == vals(q));
}

// ---------------------------------------------------------------- against PyTorch

// Five steps of each optimizer on two parameters with g = (2p - 1)(t + 1)/2 at step t. The
// expected values are printed by torch 1.13 (tests' reference script, see the commit message):
// the test cannot run torch itself.
TEST_CASE("optimizers match torch.optim after five steps (float64 tightly, float32 to rounding)") {
  struct Case {
    const char* name;
    std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)> make;
    std::vector<double> f32, f64;
  };
  const std::vector<Case> cases = {
      {"sgd", [](auto ps) { return std::make_unique<SGD>(ps, SGDOptions{.lr = 0.1}); },
       {0.5755999684333801, 0.12200002372264862, 0.878000020980835, 0.5, 0.46220001578330994, 0.3109999895095825,
        0.651199996471405, 0.40549999475479126},
       {0.5756, 0.1220000000000001, 0.8779999999999999, 0.5, 0.4622, 0.311, 0.6512, 0.4055}},
      {"sgd_momentum",
       [](auto ps) {
         return std::make_unique<SGD>(ps, SGDOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01});
       },
       {0.2381173074245453, 1.7960197925567627, -0.8004842400550842, 0.49776771664619446, 0.627592921257019,
        1.1468937397003174, -0.021533070132136345, 0.8223307132720947},
       {0.2381173159900065, 1.7960198609856268, -0.8004843806737403, 0.49776774015594316, 0.6275929522389115,
        1.146893800570785, -0.02153310817593033, 0.822330770363364}},
      {"sgd_nesterov",
       [](auto ps) {
         return std::make_unique<SGD>(ps, SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
       },
       {0.36720502376556396, 1.157318115234375, -0.15953707695007324, 0.49889054894447327, 0.5647332668304443,
        0.8281043767929077, 0.23551949858665466, 0.6634974479675293},
       {0.36720501322638427, 1.1573181719071246, -0.1595370925607759, 0.4988905396731743, 0.5647333028965693,
        0.8281043557901494, 0.23551948677959414, 0.6634974477316619}},
      {"adam", [](auto ps) { return std::make_unique<Adam>(ps, AdamOptions{.lr = 0.1}); },
       {0.505246102809906, -1.5118539333343506, 2.5118539333343506, 0.5, 0.5830297470092773, -0.2586991786956787,
        1.007169246673584, 0.37112146615982056},
       {0.5052460017473914, -1.5118539479930009, 2.5118539479930013, 0.5, 0.5830297870139205, -0.25869918039744233,
        1.0071691667947098, 0.3711214234343574}},
      {"adam_wd_amsgrad",
       [](auto ps) {
         return std::make_unique<Adam>(
             ps, AdamOptions{.lr = 0.1, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.1, .amsgrad = true});
       },
       {0.5014024972915649, -1.4959863424301147, 2.4956154823303223, 0.4842645525932312, 0.5345279574394226,
        -0.2447604537010193, 0.9937757253646851, 0.3790587782859802},
       {0.5014025349085122, -1.4959861635179648, 2.4956153857273486, 0.4842645257234409, 0.5345279081475088,
        -0.24476043769628367, 0.9937756747831836, 0.3790587591020146}},
      {"adamw", [](auto ps) { return std::make_unique<AdamW>(ps, AdamOptions{.lr = 0.1, .weight_decay = 0.01}); },
       {0.5014315843582153, -1.502793312072754, 2.4977712631225586, 0.45529258251190186, 0.5824304819107056,
        -0.2558985650539398, 1.000563383102417, 0.37076377868652344},
       {0.5014315424478547, -1.5027930201073958, 2.497771023770667, 0.455292575587548, 0.5824304653977289,
        -0.2558984142878268, 1.0005632756964862, 0.37076380672966025}},
      {"adamw_amsgrad",
       [](auto ps) {
         return std::make_unique<AdamW>(ps, AdamOptions{.lr = 0.1, .weight_decay = 0.1, .amsgrad = true});
       },
       {0.46862053871154785, -1.4229472875595093, 2.373622417449951, 0.4623793959617615, 0.57735276222229,
        -0.23127968609333038, 0.9424044489860535, 0.3675215244293213},
       {0.468620454411838, -1.422947228386071, 2.3736221460597955, 0.46237943023718453, 0.577352772485407,
        -0.23127971800670538, 0.9424044211420501, 0.3675215241956796}},
  };
  for (const Case& c : cases) {
    for (DType dt : {DType::Float32, DType::Float64}) {
      CAPTURE(c.name);
      CAPTURE(dtype_name(dt));
      const auto ps = reference_params(dt);
      auto opt = c.make(ps);
      for (int t = 0; t < 5; ++t) {
        set_test_grads(ps, t);
        opt->step();
      }
      const std::vector<double> got = flat(ps);
      const std::vector<double>& want = dt == DType::Float32 ? c.f32 : c.f64;
      // float32: PyTorch's vectorized kernels fuse some multiply-adds, so the last bits may differ.
      const double tol = dt == DType::Float32 ? 2e-6 : 1e-13;
      for (size_t i = 0; i < want.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(tol).scale(1));
    }
  }
}

// ---------------------------------------------------------------- groups, skipping, errors

TEST_CASE("param groups have their own lr and weight decay; parameters without grad are skipped") {
  Tensor a = param({1.0}, {1}), b = param({1.0}, {1}), c = param({1.0}, {1});
  SGD sgd(std::vector<ParamGroup>{{{a}, 0.1, 0.0}, {{b, c}, 0.01, 1.0}}, SGDOptions{.momentum = 0.5});
  a.set_grad(Tensor::ones({1}, DType::Float64));
  b.set_grad(Tensor::ones({1}, DType::Float64));
  sgd.step();
  CHECK(vals(a)[0] == doctest::Approx(0.9));
  CHECK(vals(b)[0] == doctest::Approx(1.0 - 0.01 * 2.0));
  CHECK(vals(c)[0] == 1.0);  // no grad: untouched, and no state created
  const TensorDict sd = sgd.state_dict();
  CHECK(sd.contains("state.0.momentum_buffer"));
  CHECK(sd.contains("state.1.momentum_buffer"));
  CHECK_FALSE(sd.contains("state.2.momentum_buffer"));
  CHECK(sd.at("param_groups.1.lr").item() == 0.01);
  CHECK(sd.at("param_groups.1.num_params").item() == 2);
  sgd.zero_grad();
  CHECK_FALSE(a.grad().defined());
}

TEST_CASE("optimizers refuse bad parameters and mismatched gradients") {
  Tensor frozen = Tensor::ones({2});
  CHECK_THROWS_WITH_AS(SGD({frozen}, {}), doctest::Contains("requires grad"), Error);
  Tensor p = param({1, 2}, {2});
  Adam adam({p});
  p.set_grad(Tensor::ones({2}));  // float32 gradient for a float64 parameter
  CHECK_THROWS_WITH_AS(adam.step(), doctest::Contains("gradient of parameter 0 is float32 [2], expected float64 [2]"),
                       Error);
  CHECK_THROWS_WITH_AS(Adam({p}, {.beta1 = 1.0}), doctest::Contains("betas"), Error);
  CHECK_THROWS_WITH_AS(SGD({p}, {.lr = -1}), doctest::Contains("invalid learning rate"), Error);
}

// ---------------------------------------------------------------- save and resume

TEST_CASE("a run resumed from a checkpoint continues bit-identically") {
  namespace fs = std::filesystem;
  const fs::path path = fs::temp_directory_path() / ("sn_optim_resume_" + std::to_string(::getpid()) + ".safetensors");
  auto make = [] {
    Generator gen(3);
    Conv2dConfig pad;
    pad.padding = 1;
    return make_sequential({std::make_shared<Conv2d>(2, 4, 3, pad, &gen), std::make_shared<InstanceNorm2d>(4, 1e-5, true),
                            std::make_shared<LeakyReLU>(0.2), std::make_shared<Conv2d>(4, 2, 1, Conv2dConfig{}, &gen)});
  };
  Generator data(9);
  const Tensor x = Tensor::randn({2, 2, 6, 6}, data), target = Tensor::randn({2, 2, 6, 6}, data);
  auto train = [&](Sequential& net, Optimizer& opt, LRScheduler& sched, int steps) {
    for (int s = 0; s < steps; ++s) {
      opt.zero_grad();
      backward(mse_loss(net.forward(x), target));
      clip_grad_norm_(net.parameters(), 1.0);
      opt.step();
      sched.step();
    }
  };
  for (int kind = 0; kind < 2; ++kind) {
    CAPTURE(kind);
    auto make_opt = [&](Sequential& net) -> std::unique_ptr<Optimizer> {
      if (kind == 0) return std::make_unique<AdamW>(net.parameters(), AdamOptions{.lr = 0.01, .amsgrad = true});
      return std::make_unique<SGD>(net.parameters(), SGDOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true});
    };
    auto schedule = std::make_shared<LinearWarmup>(3, 0.5, std::make_shared<CosineAnnealingLR>(10, 1e-4));

    // Straight through: 6 steps.
    auto net_a = make();
    auto opt_a = make_opt(*net_a);
    LRScheduler sched_a(*opt_a, schedule);
    train(*net_a, *opt_a, sched_a, 3);
    save_checkpoint(path, {.model = net_a->state_dict(), .optimizer = opt_a->state_dict(),
                           .scheduler = sched_a.state_dict(), .step = 3, .seed = 3, .info = {}, .extra = {}});
    train(*net_a, *opt_a, sched_a, 3);

    // Fresh objects, restored from the file after 3 steps, then 3 more.
    auto net_b = make();
    auto opt_b = make_opt(*net_b);
    LRScheduler sched_b(*opt_b, schedule);
    const Checkpoint ckpt = load_checkpoint(path);
    net_b->load_state_dict(ckpt.model);
    opt_b->load_state_dict(ckpt.optimizer);
    sched_b.load_state_dict(ckpt.scheduler);
    CHECK(sched_b.last_step() == 3);
    CHECK(sched_b.last_lr()[0] == schedule->lr(sched_b.base_lrs()[0], 3));
    train(*net_b, *opt_b, sched_b, 3);

    const auto pa = net_a->parameters(), pb = net_b->parameters();
    for (size_t i = 0; i < pa.size(); ++i) CHECK(vals(pa[i]) == vals(pb[i]));  // exact equality
    CHECK(sched_a.last_lr() == sched_b.last_lr());
  }
  std::filesystem::remove(path);
}

TEST_CASE("load_state_dict refuses state from another optimizer or layout, and changes nothing") {
  Tensor p = param({1, 2}, {2}), q = param({3}, {1});
  SGD sgd({p, q}, {.lr = 0.1, .momentum = 0.9});
  p.set_grad(Tensor::ones({2}, DType::Float64));
  sgd.step();
  const TensorDict sgd_state = sgd.state_dict();

  Adam adam({p, q});
  CHECK_THROWS_WITH_AS(adam.load_state_dict(sgd_state), doctest::Contains("Adam keeps no state named 'momentum_buffer'"),
                       Error);
  SGD one_param({p}, {.momentum = 0.9});
  CHECK_THROWS_WITH_AS(one_param.load_state_dict(sgd_state), doctest::Contains("group 0 has 1 parameters but the saved state has 2"),
                       Error);
  TensorDict bad_shape = sgd_state;
  bad_shape.set("state.0.momentum_buffer", Tensor::zeros({3}, DType::Float64));
  SGD other({p, q}, {.lr = 0.5, .momentum = 0.9});
  CHECK_THROWS_WITH_AS(other.load_state_dict(bad_shape),
                       doctest::Contains("'state.0.momentum_buffer' is float64 [3], expected float64 [2]"), Error);
  CHECK(other.param_groups()[0].lr == 0.5);  // untouched by the failed load
  TensorDict missing = sgd_state;
  missing.erase("param_groups.0.lr");
  CHECK_THROWS_WITH_AS(other.load_state_dict(missing), doctest::Contains("missing key 'param_groups.0.lr'"), Error);
  TensorDict stray = sgd_state;
  stray.insert("foo", Tensor::scalar(1));
  CHECK_THROWS_WITH_AS(other.load_state_dict(stray), doctest::Contains("unexpected key 'foo'"), Error);

  other.load_state_dict(sgd_state);
  CHECK(other.param_groups()[0].lr == 0.1);
  CHECK(vals(other.state_dict().at("state.0.momentum_buffer")) == vals(sgd_state.at("state.0.momentum_buffer")));
}

// ---------------------------------------------------------------- clipping

TEST_CASE("clip_grad_norm_ and clip_grad_value_ match torch.nn.utils") {
  Tensor p = param({1, 2, 3}, {3}, DType::Float32), q = param({0.5, -4}, {1, 2}, DType::Float32);
  Tensor frozen = param({1}, {1}, DType::Float32);  // no grad: ignored
  auto reset = [&] {
    p.set_grad(Tensor::from_vector<float>({3, -4, 0}, {3}));
    q.set_grad(Tensor::from_vector<float>({12, 0}, {1, 2}));
  };
  // torch 1.13 on the same gradients: norm 13, grads scaled by 6.5 / (13 + 1e-6). PyTorch forms
  // the norm and the factor in float32, we in double: they agree to float32 rounding.
  reset();
  CHECK(clip_grad_norm_({p, q, frozen}, 6.5) == doctest::Approx(13.0));
  const double c = 6.5 / (13.0 + 1e-6);
  CHECK(vals(p.grad()) == std::vector<double>{float(3 * c), float(-4 * c), 0});
  CHECK(vals(q.grad())[0] == doctest::Approx(5.999999523162842).epsilon(1e-7));
  // Under the limit: untouched.
  reset();
  CHECK(clip_grad_norm_({p, q}, 100.0) == doctest::Approx(13.0));
  CHECK(vals(p.grad()) == std::vector<double>{3, -4, 0});
  // Infinity norm and 1-norm.
  CHECK(clip_grad_norm_({p, q}, 6.0, kInfNorm) == 12.0);
  CHECK(vals(q.grad())[0] == doctest::Approx(5.999999523162842).epsilon(1e-7));
  reset();
  CHECK(clip_grad_norm_({p, q}, 5.0, 1.0) == doctest::Approx(19.0));
  CHECK(vals(p.grad())[0] == doctest::Approx(0.7894735336303711).epsilon(1e-6));
  CHECK(vals(q.grad())[0] == doctest::Approx(3.1578941345214844).epsilon(1e-6));

  clip_grad_value_({p, q}, 0.5);
  CHECK(vals(p.grad()) == std::vector<double>{0.5, -0.5, 0.0});
  CHECK(vals(q.grad()) == std::vector<double>{0.5, 0.0});
}

TEST_CASE("clipping writes new gradient tensors instead of scaling shared storage") {
  Tensor p = param({1, 1}, {2}, DType::Float32);
  const Tensor shared = Tensor::from_vector<float>({30, 40}, {2});
  p.set_grad(shared);
  clip_grad_norm_({p}, 5.0);
  CHECK(vals(shared) == std::vector<double>{30, 40});
  CHECK(vals(p.grad())[0] == doctest::Approx(3.0).epsilon(1e-6));
}

// ---------------------------------------------------------------- schedules

namespace {
std::vector<double> run_schedule(std::shared_ptr<const LRSchedule> s, int steps, double lr = 0.1) {
  Tensor p = param({0}, {1});
  SGD opt({p}, {.lr = lr});
  LRScheduler sched(opt, std::move(s));
  std::vector<double> out{opt.param_groups()[0].lr};
  for (int i = 0; i < steps; ++i) {
    sched.step();
    out.push_back(opt.param_groups()[0].lr);
  }
  return out;
}
void check_lrs(const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-12));
  }
}
}  // namespace

// Expected rates: optimizer.param_groups[0]['lr'] after each scheduler.step() in torch 1.13.
TEST_CASE("StepLR, CosineAnnealingLR and LinearWarmup follow PyTorch's schedules") {
  check_lrs(run_schedule(std::make_shared<StepLR>(3, 0.5), 10),
            {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125});
  // Past t_max the rate climbs back along the cosine, as PyTorch's does.
  check_lrs(run_schedule(std::make_shared<CosineAnnealingLR>(10, 0.001), 25),
            {0.1, 0.09757729755661011, 0.0905463412215599, 0.07959536998847742, 0.0657963412215599, 0.0505,
             0.03520365877844011, 0.02140463001152259, 0.010453658778440109, 0.0034227024433899004, 0.001,
             0.0034227024433899004, 0.01045365877844014, 0.02140463001152267, 0.035203658778440255,
             0.05050000000000022, 0.06579634122156018, 0.07959536998847777, 0.09054634122156031,
             0.09757729755661054, 0.10000000000000045, 0.09757729755661054, 0.09054634122156033,
             0.07959536998847778, 0.0657963412215602, 0.050500000000000225});
  // LinearLR(start_factor=0.25, total_iters=4).
  check_lrs(run_schedule(std::make_shared<LinearWarmup>(4, 0.25), 7),
            {0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.1, 0.1, 0.1});
  // ChainedScheduler([LinearLR(0.25, total_iters=4), StepLR(3, 0.5)]).
  check_lrs(run_schedule(std::make_shared<LinearWarmup>(4, 0.25, std::make_shared<StepLR>(3, 0.5)), 8),
            {0.025, 0.04375, 0.0625, 0.040625, 0.05, 0.05, 0.025, 0.025, 0.025});
  CHECK_THROWS_AS(LinearWarmup(0), Error);
  CHECK_THROWS_AS(LinearWarmup(5, 0.0), Error);
  CHECK_THROWS_AS(StepLR(0), Error);
}

TEST_CASE("the scheduler scales every group from its own base rate and restores its state") {
  Tensor a = param({0}, {1}), b = param({0}, {1});
  SGD opt(std::vector<ParamGroup>{{{a}, 0.1, 0.0}, {{b}, 1.0, 0.0}}, SGDOptions{});
  LRScheduler sched(opt, std::make_shared<StepLR>(2, 0.1));
  for (int i = 0; i < 5; ++i) sched.step();
  CHECK(sched.last_lr()[0] == doctest::Approx(0.001));
  CHECK(sched.last_lr()[1] == doctest::Approx(0.01));
  const TensorDict state = sched.state_dict();
  CHECK(state.at("last_step").item() == 5);

  SGD opt2(std::vector<ParamGroup>{{{a}, 7.0, 0.0}, {{b}, 7.0, 0.0}}, SGDOptions{});
  LRScheduler sched2(opt2, std::make_shared<StepLR>(2, 0.1));
  sched2.load_state_dict(state);
  CHECK(sched2.base_lrs() == std::vector<double>{0.1, 1.0});
  CHECK(sched2.last_lr() == sched.last_lr());  // applied to the optimizer on load
  sched.step();
  sched2.step();
  CHECK(sched2.last_lr() == sched.last_lr());
}
