// Parity with PyTorch: every differentiable op (autograd/ops.h, autograd/nn_ops.h), run on the
// inputs that tests/parity/gen_golden.py gave PyTorch, must give PyTorch's output and PyTorch's
// input gradients for the same fixed upstream gradient.
//
// The golden files are generated at test time (never committed) into the directory named by the
// environment variable STYLENET_GOLDEN_DIR; ctest sets it up as the fixture parity_golden (see
// tests/CMakeLists.txt). The directory missing is a failure, never a skip. By hand:
//   /usr/bin/python3 tests/parity/gen_golden.py /tmp/golden
//   STYLENET_GOLDEN_DIR=/tmp/golden ./stylenet_tests --source-file=*test_parity.cpp
// STYLENET_PARITY_REPORT=1 prints the largest error of every case, passing or not.
//
// Test cases here: the op table (every op of ops.h and nn_ops.h, float32 and float64, broadcast,
// transposed and strided inputs, kinks), a coverage check (each C++ op has a golden case), and 20
// training steps of a small conv net with Adam, SGD (momentum, nesterov, weight decay) and AdamW
// through the functional ops and a re-statement of torch.optim's update rule (isolates the ops).
// tests/test_parity_layers.cpp has the layers/ modules loaded from a torch state_dict and the same
// training through Sequential + optim/ (the real thing); tests/parity/golden.h the golden files'
// readers, the comparison and its tolerances.
//
// Each case folder holds in<i>.npy (logical values), out.npy, gout.npy, gin<i>.npy and meta.txt
// (op=..., dtype, in<i>_layout = contiguous | transpose | step, in<i>_grad, and the op's params).
// The layout key makes this side build the same non-contiguous view PyTorch was given.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/nn_ops.h"
#include "tests/parity/golden.h"
#include "weights/npy.h"

using namespace sn;
using namespace sn::parity;

namespace {

// ---------------------------------------------------------------------------------------------
// inputs
// ---------------------------------------------------------------------------------------------

// The view PyTorch was given: same logical values, the layout meta.txt names.
Tensor make_input(const Tensor& values, const std::string& layout) {
  if (layout == "contiguous") return values.clone_data();
  const Shape& shape = values.shape();
  const size_t nd = shape.size();
  if (layout == "transpose") {
    SN_CHECK(nd >= 2, "parity: transpose layout needs >= 2 dims");
    // Storage holds the values with the last two dims swapped; the view swaps them back.
    Shape sw = shape, st = values.strides();
    std::swap(sw[nd - 1], sw[nd - 2]);
    std::swap(st[nd - 1], st[nd - 2]);
    const Tensor storage = values.as_strided(sw, st, 0).contiguous();
    Shape vst = storage.strides();
    std::swap(vst[nd - 1], vst[nd - 2]);
    return storage.as_strided(shape, vst, 0);
  }
  if (layout == "step") {
    SN_CHECK(nd >= 1, "parity: step layout needs >= 1 dim");
    Shape big_shape = shape;
    big_shape[nd - 1] *= 2;
    const Tensor big = Tensor::zeros(big_shape, values.dtype());
    Shape st = big.strides();
    st[nd - 1] = 2;
    Tensor view = big.as_strided(shape, st, 0);
    view.copy_from(values);
    return view;
  }
  throw Error("parity: unknown layout '" + layout + "'");
}

// ---------------------------------------------------------------------------------------------
// the op table: op name (as in gen_golden.py) -> the same computation through StyleNet's API
// ---------------------------------------------------------------------------------------------

using Inputs = std::vector<Tensor>;
using OpFn = std::function<Tensor(const Inputs&, const Meta&)>;

Tensor optional(const Inputs& x, size_t i) { return x.size() > i ? x[i] : Tensor(); }

Pool2dOptions pool_options(const Meta& m) {
  Pool2dOptions o;
  o.kernel = m.pair("kernel");
  o.stride = m.pair("stride");
  o.padding = m.pair("padding");
  o.ceil_mode = m.i("ceil_mode") != 0;
  o.count_include_pad = m.i_or("count_include_pad", 1) != 0;
  return o;
}

const std::map<std::string, OpFn>& op_table() {
  static const std::map<std::string, OpFn> table = {
      // elementwise, binary
      {"add", [](const Inputs& x, const Meta&) { return add(x[0], x[1]); }},
      {"sub", [](const Inputs& x, const Meta&) { return sub(x[0], x[1]); }},
      {"mul", [](const Inputs& x, const Meta&) { return mul(x[0], x[1]); }},
      {"div", [](const Inputs& x, const Meta&) { return div(x[0], x[1]); }},
      {"pow", [](const Inputs& x, const Meta&) { return pow(x[0], x[1]); }},
      {"maximum", [](const Inputs& x, const Meta&) { return maximum(x[0], x[1]); }},
      {"minimum", [](const Inputs& x, const Meta&) { return minimum(x[0], x[1]); }},
      // with a scalar
      {"pow_scalar", [](const Inputs& x, const Meta& m) { return pow(x[0], m.d("exponent")); }},
      {"add_scalar", [](const Inputs& x, const Meta& m) { return add_scalar(x[0], m.d("s")); }},
      {"mul_scalar", [](const Inputs& x, const Meta& m) { return mul_scalar(x[0], m.d("s")); }},
      {"rsub_scalar", [](const Inputs& x, const Meta& m) { return m.d("s") - x[0]; }},
      {"div_scalar", [](const Inputs& x, const Meta& m) { return x[0] / m.d("s"); }},
      // unary
      {"neg", [](const Inputs& x, const Meta&) { return neg(x[0]); }},
      {"exp", [](const Inputs& x, const Meta&) { return exp(x[0]); }},
      {"log", [](const Inputs& x, const Meta&) { return log(x[0]); }},
      {"sqrt", [](const Inputs& x, const Meta&) { return sqrt(x[0]); }},
      {"abs", [](const Inputs& x, const Meta&) { return abs(x[0]); }},
      {"square", [](const Inputs& x, const Meta&) { return square(x[0]); }},
      {"relu", [](const Inputs& x, const Meta&) { return relu(x[0]); }},
      {"leaky_relu", [](const Inputs& x, const Meta& m) { return leaky_relu(x[0], m.d("slope")); }},
      {"tanh", [](const Inputs& x, const Meta&) { return tanh(x[0]); }},
      {"sigmoid", [](const Inputs& x, const Meta&) { return sigmoid(x[0]); }},
      {"clamp", [](const Inputs& x, const Meta& m) { return clamp(x[0], m.d("lo"), m.d("hi")); }},
      // reductions
      {"sum", [](const Inputs& x, const Meta& m) { return sum(x[0], m.ints("dims"), m.i("keepdim")); }},
      {"mean", [](const Inputs& x, const Meta& m) { return mean(x[0], m.ints("dims"), m.i("keepdim")); }},
      {"var", [](const Inputs& x, const Meta& m) {
         return var(x[0], m.ints("dims"), m.i("correction"), m.i("keepdim"));
       }},
      {"max", [](const Inputs& x, const Meta& m) { return max(x[0], m.ints("dims"), m.i("keepdim")); }},
      {"min", [](const Inputs& x, const Meta& m) { return min(x[0], m.ints("dims"), m.i("keepdim")); }},
      // views
      {"reshape", [](const Inputs& x, const Meta& m) { return reshape(x[0], m.ints("shape")); }},
      {"view", [](const Inputs& x, const Meta& m) { return view(x[0], m.ints("shape")); }},
      {"flatten", [](const Inputs& x, const Meta& m) { return flatten(x[0], m.i("start"), m.i("end")); }},
      {"permute", [](const Inputs& x, const Meta& m) { return permute(x[0], m.ints("order")); }},
      {"transpose", [](const Inputs& x, const Meta& m) { return transpose(x[0], m.i("d0"), m.i("d1")); }},
      {"slice", [](const Inputs& x, const Meta& m) {
         return slice(x[0], m.i("dim"), m.i("start"), m.i("end"), m.i("step"));
       }},
      {"select", [](const Inputs& x, const Meta& m) { return select(x[0], m.i("dim"), m.i("index")); }},
      {"expand", [](const Inputs& x, const Meta& m) { return expand(x[0], m.ints("shape")); }},
      {"unsqueeze", [](const Inputs& x, const Meta& m) { return unsqueeze(x[0], m.i("dim")); }},
      {"squeeze", [](const Inputs& x, const Meta& m) { return squeeze(x[0], m.i("dim")); }},
      {"contiguous", [](const Inputs& x, const Meta&) { return contiguous(x[0]); }},
      // linear algebra, joining
      {"matmul", [](const Inputs& x, const Meta&) { return matmul(x[0], x[1]); }},
      {"cat", [](const Inputs& x, const Meta& m) { return cat(x, m.i("dim")); }},
      {"stack", [](const Inputs& x, const Meta& m) { return stack(x, m.i("dim")); }},
      // image / nn
      {"conv2d", [](const Inputs& x, const Meta& m) {
         Conv2dOptions o;
         o.stride = m.pair("stride");
         o.padding = m.pair("padding");
         o.dilation = m.pair("dilation");
         o.groups = m.i("groups");
         return conv2d(x[0], x[1], optional(x, 2), o);
       }},
      {"max_pool2d", [](const Inputs& x, const Meta& m) { return max_pool2d(x[0], pool_options(m)); }},
      {"avg_pool2d", [](const Inputs& x, const Meta& m) { return avg_pool2d(x[0], pool_options(m)); }},
      {"upsample_nearest2d", [](const Inputs& x, const Meta& m) {
         const auto s = m.pair("scale");
         return upsample_nearest2d(x[0], s[0], s[1]);
       }},
      {"upsample_bilinear2d", [](const Inputs& x, const Meta& m) {
         const auto s = m.pair("size");
         return upsample_bilinear2d(x[0], s[0], s[1]);
       }},
      {"pad2d", [](const Inputs& x, const Meta& m) {
         const auto v = m.ints("lrtb");
         SN_CHECK(v.size() == 4, "parity: lrtb needs 4 values");
         return pad2d(x[0], {v[0], v[1], v[2], v[3]}, m.str("mode") == "reflect" ? PadMode::Reflect : PadMode::Zero);
       }},
      {"instance_norm", [](const Inputs& x, const Meta& m) {
         return instance_norm(x[0], optional(x, 1), optional(x, 2), m.d("eps"));
       }},
      {"linear", [](const Inputs& x, const Meta&) { return linear(x[0], x[1], optional(x, 2)); }},
      {"mse_loss", [](const Inputs& x, const Meta&) { return mse_loss(x[0], x[1]); }},
      {"l1_loss", [](const Inputs& x, const Meta&) { return l1_loss(x[0], x[1]); }},
      // compositions
      {"softmax_composite", [](const Inputs& x, const Meta& m) {
         const int64_t d = m.i("dim");
         const Tensor e = exp(x[0] - max(x[0], {d}, true));
         return e / sum(e, {d}, true);
       }},
      {"scalar_ops_composite", [](const Inputs& x, const Meta&) {
         return (2.0 - x[0] * 3.0 + 1.5) / 4.0 + 0.5 * x[0] - (x[0] - 1.0);
       }},
      {"norm_composite", [](const Inputs& x, const Meta&) {
         return (x[0] - mean(x[0], {-1}, true)) / sqrt(var(x[0], {-1}, 0, true) + 1e-5);
       }},
  };
  return table;
}

CaseResult run_op_case(const fs::path& dir, const Meta& m) {
  CaseResult res;
  const std::string op = m.str("op");
  const auto it = op_table().find(op);
  SN_CHECK(it != op_table().end(), "parity: no C++ entry for op '", op, "'");
  const int64_t n = m.i("ninputs");
  Inputs x;
  std::vector<int64_t> grad_idx;
  for (int64_t i = 0; i < n; ++i) {
    const std::string k = std::to_string(i);
    Tensor t = make_input(read_npy(dir / ("in" + k + ".npy")), m.str("in" + k + "_layout"));
    if (m.i("in" + k + "_grad")) {
      t.set_requires_grad(true);
      grad_idx.push_back(i);
    }
    x.push_back(t);
  }
  const DType dt = x[0].dtype();
  const Tensor out = it->second(x, m);
  const Tensor want_out = read_npy(dir / "out.npy");
  const int64_t nt = terms(op, x, want_out);
  std::ostringstream msg;
  msg << dir.filename().string() << " (op " << op << ", " << dtype_name(dt) << ", terms " << nt << ")";
  auto record = [&](const Cmp& c) {
    res.ok = res.ok && c.ok;
    res.worst_abs = std::max(res.worst_abs, c.max_abs);
    res.worst_rel = std::max(res.worst_rel, c.max_rel);
    res.worst_ratio = std::max(res.worst_ratio, c.worst_ratio);
    msg << "\n  " << (c.ok ? "ok   " : "FAIL ") << c.message;
  };
  record(compare("out", out, want_out, tolerance(op, dt, nt, want_out)));

  std::vector<Tensor> inputs;
  for (int64_t i : grad_idx) inputs.push_back(x[i]);
  const Tensor gout = read_npy(dir / "gout.npy");
  const std::vector<Tensor> grads = sn::grad({out}, inputs, {gout});
  SN_CHECK(grads.size() == inputs.size(), "parity: grad returned ", grads.size(), " tensors for ",
           inputs.size(), " inputs");
  for (size_t j = 0; j < grads.size(); ++j) {
    const std::string k = std::to_string(grad_idx[j]);
    const Tensor want = read_npy(dir / ("gin" + k + ".npy"));
    // Gradients are sums over every output an input element reaches: the same n, times the
    // upstream gradient's size.
    const Tol tol = tolerance(op, dt, nt, want);
    record(compare("grad in" + k, grads[j], want, tol));
  }
  res.message = msg.str();
  return res;
}

// The Sequential of gen_golden.py, written with the functional API:
// Conv2d(3,8,3,p=1) ReLU Conv2d(8,8,3,s=2,p=1,bias=False) InstanceNorm2d(8,affine) LeakyReLU(0.2)
// Upsample(nearest x2) ReflectionPad2d(1) Conv2d(8,3,3), parameters named by their index.
// (A bias right before the instance norm would have a zero gradient up to rounding noise, which
// Adam scales up to full steps: gen_golden.py leaves it out, see make_net there.)
Tensor functional_net(const std::map<std::string, Tensor>& p, const Tensor& x) {
  auto at = [&](const std::string& n) { return p.count(n) ? p.at(n) : Tensor(); };
  Conv2dOptions pad1;
  pad1.padding = {1, 1};
  Conv2dOptions down = pad1;
  down.stride = {2, 2};
  Tensor h = relu(conv2d(x, p.at("0.weight"), p.at("0.bias"), pad1));
  h = conv2d(h, p.at("2.weight"), at("2.bias"), down);
  h = leaky_relu(instance_norm(h, p.at("3.weight"), p.at("3.bias"), 1e-5), 0.2);
  h = pad2d(upsample_nearest2d(h, 2, 2), {1, 1, 1, 1}, PadMode::Reflect);
  return conv2d(h, p.at("7.weight"), p.at("7.bias"));
}

// A plain re-statement of torch.optim's single-tensor update rules (PyTorch 1.13), in float32 like
// PyTorch's, used to check the network's gradients over many steps independently of optim/.
class ReferenceOptimizer {
 public:
  explicit ReferenceOptimizer(const Meta& m) : m_(m), kind_(m.str("optimizer")) {}

  void step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads) {
    ++t_;
    const double lr = m_.d("lr"), wd = m_.d_or("weight_decay", kind_ == "adamw" ? 1e-2 : 0.0);
    for (size_t i = 0; i < params.size(); ++i) {
      float* p = params[i].data<float>();
      const std::vector<float> g0 = grads[i].to_vector<float>();
      const size_t n = g0.size();
      auto& s1 = state1_[i];
      auto& s2 = state2_[i];
      if (s1.empty()) s1.assign(n, 0.f), s2.assign(n, 0.f);
      if (kind_ == "sgd") {
        const float mom = float(m_.d_or("momentum", 0)), dampening = float(m_.d_or("dampening", 0));
        const bool nesterov = m_.str("nesterov") == "True" || m_.str("nesterov") == "1";
        for (size_t k = 0; k < n; ++k) {
          float d = g0[k] + float(wd) * p[k];
          if (mom != 0) {
            s1[k] = t_ == 1 ? d : mom * s1[k] + (1 - dampening) * d;
            d = nesterov ? d + mom * s1[k] : s1[k];
          }
          p[k] += -float(lr) * d;
        }
      } else {  // adam, adamw
        const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
        const double bc1 = 1 - std::pow(b1, double(t_)), bc2 = 1 - std::pow(b2, double(t_));
        const float step_size = float(lr / bc1), bc2_sqrt = float(std::sqrt(bc2));
        for (size_t k = 0; k < n; ++k) {
          float g = g0[k];
          if (kind_ == "adamw") p[k] *= float(1 - lr * wd);
          else if (wd != 0) g += float(wd) * p[k];
          s1[k] = s1[k] * float(b1) + g * float(1 - b1);
          s2[k] = s2[k] * float(b2) + g * g * float(1 - b2);
          const float denom = std::sqrt(s2[k]) / bc2_sqrt + float(eps);
          p[k] += -step_size * (s1[k] / denom);
        }
      }
    }
  }

 private:
  const Meta& m_;
  std::string kind_;
  int64_t t_ = 0;
  std::map<size_t, std::vector<float>> state1_, state2_;
};

void run_functional_training(const fs::path& dir) {
  const TrainGolden g = load_train(dir);
  std::map<std::string, Tensor> params;
  std::vector<Tensor> plist;
  for (const auto& n : g.names) {
    params[n] = g.init.at(n).clone_data();
    params[n].set_requires_grad(true);
    plist.push_back(params[n]);
  }
  ReferenceOptimizer opt(g.m);
  std::vector<double> losses;
  const int64_t steps = g.m.i("steps");
  for (int64_t s = 0; s < steps; ++s) {
    const Tensor loss = mse_loss(functional_net(params, g.x), g.target);
    losses.push_back(loss.item());
    const std::vector<Tensor> grads = sn::grad({loss}, plist);
    NoGradGuard no_grad;
    opt.step(plist, grads);
  }
  check_training(g, dir.filename().string() + " (functional net, reference optimizer)", losses, params);
}

}  // namespace

TEST_CASE("parity: the golden directory exists (STYLENET_GOLDEN_DIR)") {
  const fs::path dir = golden_dir();
  const auto names = case_names(dir);
  CHECK(names.size() > 100);
  for (const auto& n : names) {
    INFO("case ", n);
    CHECK(fs::exists(dir / n / "meta.txt"));
  }
}

TEST_CASE("parity: every op in the C++ table has a golden case") {
  const fs::path dir = golden_dir();
  std::set<std::string> covered;
  for (const GoldenCase& c : cases_of_kind(dir, "op")) covered.insert(c.meta.str("op"));
  for (const auto& [op, fn] : op_table()) {
    INFO("op ", op);
    CHECK(covered.count(op) == 1);
  }
}

TEST_CASE("parity: ops and their gradients match PyTorch") {
  const fs::path dir = golden_dir();
  const bool report = report_all();
  int n_cases = 0;
  std::map<std::string, std::array<double, 3>> per_op;  // op -> worst abs, rel, ratio
  for (const GoldenCase& c : cases_of_kind(dir, "op")) {
    const Meta& m = c.meta;
    ++n_cases;
    const CaseResult r = run_guarded(c.name + " (op " + m.str("op") + ")", [&] { return run_op_case(c.dir, m); });
    auto& w = per_op[m.str("op") + (m.str("dtype") == "float64" ? " f64" : "")];
    w[0] = std::max(w[0], r.worst_abs);
    w[1] = std::max(w[1], r.worst_rel);
    w[2] = std::max(w[2], r.worst_ratio);
    if (report) MESSAGE(r.message);
    CHECK_MESSAGE(r.ok, r.message);
  }
  CHECK(n_cases > 100);
  if (report) {
    std::ostringstream os;
    os << "worst per op (max abs err, max rel err, fraction of tolerance used):";
    for (const auto& [op, w] : per_op) os << "\n  " << op << ": " << w[0] << ", " << w[1] << ", " << w[2];
    MESSAGE(os.str());
  }
}

// The nn ops composed into the training net, run for 20 steps with a re-statement of PyTorch's
// update rules: checks that the op gradients stay right along a training trajectory, apart from
// optim/ and layers/ (which the layer-based cases below check).
TEST_CASE("parity: 20 training steps of a small conv net, functional ops (Adam, SGD nesterov, AdamW)") {
  const fs::path dir = golden_dir();
  int n = 0;
  for (const GoldenCase& c : cases_of_kind(dir, "train")) {
    ++n;
    INFO("case ", c.name);
    run_functional_training(c.dir);
  }
  CHECK(n >= 1);
}

// weights/npy.h against files NumPy wrote: every golden array (0-d, 1-d, 4-d, float32, float64)
// must load with the same shape, dtype and bits as this file's independent reader.
TEST_CASE("parity: weights/npy.h reads NumPy's .npy files exactly") {
  const fs::path dir = golden_dir();
  int n = 0;
  for (const auto& name : case_names(dir)) {
    for (const auto& entry : fs::directory_iterator(dir / name)) {
      if (entry.path().extension() != ".npy") continue;
      ++n;
      INFO(entry.path().string());
      const Tensor want = read_npy(entry.path());
      const Tensor got = load_npy(entry.path());
      REQUIRE(got.shape() == want.shape());
      REQUIRE(got.dtype() == want.dtype());
      CHECK(got.to_vector<double>() == want.to_vector<double>());
    }
  }
  CHECK(n > 500);
}
