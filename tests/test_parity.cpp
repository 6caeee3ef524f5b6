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
// Test cases: the op table (every op of ops.h and nn_ops.h, float32 and float64, broadcast,
// transposed and strided inputs, kinks), a coverage check (each C++ op has a golden case), the
// layers/ modules loaded from a torch state_dict, and 20 training steps of a small conv net with
// Adam, SGD (momentum, nesterov, weight decay) and AdamW, twice: functional ops + a re-statement
// of torch.optim's update rule (isolates the ops), and Sequential + optim/ (the real thing).
//
// Each case folder holds in<i>.npy (logical values), out.npy, gout.npy, gin<i>.npy and meta.txt
// (op=..., dtype, in<i>_layout = contiguous | transpose | step, in<i>_grad, and the op's params).
// The layout key makes this side build the same non-contiguous view PyTorch was given.
//
// ---- Tolerances ----
// An element passes when |got - want| <= atol + rtol * |want| (numpy.allclose / torch.allclose).
//   float64: rtol = 1e-10, atol = 1e-12 everywhere. Both sides compute in double; what is left is
//     summation order and libm's last bit.
//   float32, elementwise ops, views, joins, padding, nearest upsampling, max pooling:
//     rtol = 1e-5, atol = 1e-6. Each output element is one or two correctly rounded operations on
//     both sides (PyTorch's vectorised exp/log/tanh are within ~2 ulp); 1e-5 is ~80 ulp.
//   float32, ops that sum many terms (sum/mean/var, matmul, linear, conv2d, avg pooling, bilinear,
//     instance_norm, losses, and the gradients of broadcasting or expanding ops, which are sums):
//     rtol = 1e-5 and atol = 1e-6 * sqrt(n) * scale, where n is the number of terms summed into
//     one element (the `terms` function below) and scale is the output's largest magnitude (at
//     least 1). Two different summation orders of n float32 terms differ by about
//     eps * sqrt(n) * (sum of |term|) in the typical case, so an output that cancels to near zero
//     may carry an absolute error at the size of its terms, not of itself; the atol covers that.
//   Training (20 optimizer steps on a small conv net): losses rtol = 1e-4, final parameters
//     rtol = 1e-4 with atol = 1e-4 * (largest |parameter|). Rounding differences of 1e-7 in each
//     step's gradients compound through 20 updates; Adam's m / sqrt(v) amplifies them where a
//     gradient element is near zero. A real bug (a wrong bias correction, a missing weight decay)
//     moves the losses by 1e-2 or more after a few steps.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/nn_ops.h"
#include "layers/layers.h"
#include "optim/adam.h"
#include "optim/sgd.h"
#include "weights/npy.h"

using namespace sn;
namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------------------------------------
// .npy reading: format versions 1-3, little-endian '<f4' / '<f8', C order. Self-contained so the
// parity suite does not depend on the component it may be checking (weights/npy.h).
// ---------------------------------------------------------------------------------------------

Tensor read_npy(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  SN_CHECK(f.good(), "parity: cannot open ", path.string());
  char magic[6];
  f.read(magic, 6);
  SN_CHECK(f.good() && std::memcmp(magic, "\x93NUMPY", 6) == 0, "parity: not a .npy file: ", path.string());
  unsigned char ver[2];
  f.read(reinterpret_cast<char*>(ver), 2);
  uint32_t header_len = 0;
  if (ver[0] == 1) {
    unsigned char b[2];
    f.read(reinterpret_cast<char*>(b), 2);
    header_len = b[0] | (b[1] << 8);
  } else {
    unsigned char b[4];
    f.read(reinterpret_cast<char*>(b), 4);
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<uint32_t>(b[3]) << 24);
  }
  std::string header(header_len, '\0');
  f.read(header.data(), header_len);
  SN_CHECK(f.good(), "parity: truncated header in ", path.string());

  auto value_of = [&](const std::string& key) {
    const size_t k = header.find("'" + key + "'");
    SN_CHECK(k != std::string::npos, "parity: no '", key, "' in the header of ", path.string());
    size_t v = header.find(':', k) + 1;
    while (v < header.size() && header[v] == ' ') ++v;
    return v;
  };
  const size_t d = value_of("descr");
  const std::string descr = header.substr(d + 1, header.find('\'', d + 1) - d - 1);
  SN_CHECK(descr == "<f4" || descr == "<f8", "parity: unsupported dtype ", descr, " in ", path.string());
  SN_CHECK(header.compare(value_of("fortran_order"), 5, "False") == 0,
           "parity: Fortran-order array in ", path.string());
  const size_t s = value_of("shape");
  const std::string tuple = header.substr(s + 1, header.find(')', s) - s - 1);
  Shape shape;
  std::stringstream ss(tuple);
  for (std::string item; std::getline(ss, item, ',');) {
    if (item.find_first_not_of(' ') != std::string::npos) shape.push_back(std::stoll(item));
  }
  const int64_t n = numel(shape);
  if (descr == "<f4") {
    std::vector<float> v(n);
    f.read(reinterpret_cast<char*>(v.data()), n * 4);
    SN_CHECK(f.good() || n == 0, "parity: truncated data in ", path.string());
    return Tensor::from_vector(v, shape);
  }
  std::vector<double> v(n);
  f.read(reinterpret_cast<char*>(v.data()), n * 8);
  SN_CHECK(f.good() || n == 0, "parity: truncated data in ", path.string());
  return Tensor::from_vector(v, shape);
}

// ---------------------------------------------------------------------------------------------
// meta.txt: key=value lines
// ---------------------------------------------------------------------------------------------

struct Meta {
  std::map<std::string, std::string> kv;
  std::string where;

  bool has(const std::string& k) const { return kv.count(k) != 0; }
  const std::string& str(const std::string& k) const {
    auto it = kv.find(k);
    SN_CHECK(it != kv.end(), "parity: ", where, "/meta.txt has no key '", k, "'");
    return it->second;
  }
  int64_t i(const std::string& k) const { return std::stoll(str(k)); }
  double d(const std::string& k) const { return std::stod(str(k)); }
  int64_t i_or(const std::string& k, int64_t dflt) const { return has(k) ? i(k) : dflt; }
  double d_or(const std::string& k, double dflt) const { return has(k) ? d(k) : dflt; }
  std::vector<std::string> list(const std::string& k) const {
    std::vector<std::string> out;
    std::stringstream ss(str(k));
    for (std::string item; std::getline(ss, item, ',');) {
      if (!item.empty()) out.push_back(item);
    }
    return out;
  }
  std::vector<int64_t> ints(const std::string& k) const {
    std::vector<int64_t> out;
    for (const auto& s : list(k)) out.push_back(std::stoll(s));
    return out;
  }
  std::array<int64_t, 2> pair(const std::string& k) const {
    const auto v = ints(k);
    SN_CHECK(v.size() == 2, "parity: ", where, ": '", k, "' must have 2 values");
    return {v[0], v[1]};
  }
};

Meta read_meta(const fs::path& dir) {
  Meta m;
  m.where = dir.filename().string();
  std::ifstream f(dir / "meta.txt");
  SN_CHECK(f.good(), "parity: cannot open ", (dir / "meta.txt").string());
  for (std::string line; std::getline(f, line);) {
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    m.kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// golden directory
// ---------------------------------------------------------------------------------------------

fs::path golden_dir() {
  const char* env = std::getenv("STYLENET_GOLDEN_DIR");
  // Loud on purpose: a parity suite that silently skips looks exactly like one that passes.
  if (env == nullptr || *env == '\0') {
    FAIL("STYLENET_GOLDEN_DIR is not set: run tests/parity/gen_golden.py OUTDIR with Debian's "
         "/usr/bin/python3 (PyTorch) and point STYLENET_GOLDEN_DIR at OUTDIR (ctest does this "
         "through the parity_golden fixture)");
  }
  const fs::path dir(env);
  if (!fs::exists(dir / "index.txt")) {
    FAIL("STYLENET_GOLDEN_DIR=" << dir.string()
                                << " has no index.txt: the golden files were not generated "
                                   "(did the parity_golden fixture fail? is PyTorch installed?)");
  }
  return dir;
}

std::vector<std::string> case_names(const fs::path& dir) {
  std::vector<std::string> names;
  std::ifstream f(dir / "index.txt");
  for (std::string line; std::getline(f, line);) {
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

bool report_all() {
  const char* env = std::getenv("STYLENET_PARITY_REPORT");
  return env != nullptr && *env != '\0' && std::string(env) != "0";
}

// ---------------------------------------------------------------------------------------------
// comparison
// ---------------------------------------------------------------------------------------------

struct Tol {
  double rtol, atol;
};

struct Cmp {
  bool ok = true;
  std::string message;     // why it failed, or the error summary when it passed
  double max_abs = 0.0;    // largest |got - want|
  double max_rel = 0.0;    // largest |got - want| / |want| (elements with want != 0)
  double worst_ratio = 0;  // largest |got - want| / (atol + rtol |want|); <= 1 passes
};

std::string index_str(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return shape_str(idx);
}

Cmp compare(const std::string& what, const Tensor& got, const Tensor& want, Tol tol) {
  Cmp r;
  std::ostringstream os;
  if (!got.defined()) {
    r.ok = false;
    r.message = what + ": result is undefined";
    return r;
  }
  if (got.shape() != want.shape()) {
    r.ok = false;
    r.message = what + ": shape " + shape_str(got.shape()) + ", want " + shape_str(want.shape());
    return r;
  }
  if (got.dtype() != want.dtype()) {
    r.ok = false;
    r.message = what + ": dtype " + dtype_name(got.dtype()) + ", want " + dtype_name(want.dtype());
    return r;
  }
  const std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  int64_t worst = -1, bad = 0;
  for (size_t k = 0; k < g.size(); ++k) {
    const double err = std::abs(g[k] - w[k]);
    const double bound = tol.atol + tol.rtol * std::abs(w[k]);
    const double ratio = std::isnan(err) ? INFINITY : err / bound;
    if (std::isnan(err) && !(std::isnan(g[k]) && std::isnan(w[k]))) bad++;
    else if (err > bound) bad++;
    r.max_abs = std::max(r.max_abs, std::isnan(err) ? INFINITY : err);
    if (w[k] != 0) r.max_rel = std::max(r.max_rel, err / std::abs(w[k]));
    if (worst < 0 || ratio > r.worst_ratio) {
      r.worst_ratio = ratio;
      worst = static_cast<int64_t>(k);
    }
  }
  r.ok = bad == 0;
  os << what << ": max abs err " << r.max_abs << ", max rel err " << r.max_rel;
  if (worst >= 0) {
    os.precision(9);
    os << ", worst at " << index_str(worst, want.shape()) << " (got " << g[worst] << ", want "
       << w[worst] << ", " << r.worst_ratio << "x tolerance)";
  }
  if (!r.ok) os << "; " << bad << " of " << g.size() << " elements outside atol " << tol.atol
                << " + rtol " << tol.rtol << " * |want|";
  r.message = os.str();
  return r;
}

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

// How many float32 terms are summed into one element of the output (forward) and of each input
// gradient (backward), for the atol of the tolerance comment at the top. 1 = no sums.
int64_t terms(const std::string& op, const Inputs& x, const Tensor& out) {
  auto in_per_out = [&] { return std::max<int64_t>(1, x[0].numel() / std::max<int64_t>(1, out.numel())); };
  if (op == "sum" || op == "mean" || op == "var" || op == "mse_loss" || op == "l1_loss") return in_per_out();
  if (op == "softmax_composite" || op == "norm_composite") return x[0].numel();
  if (op == "matmul" || op == "linear") {
    // forward sums over K; the weight gradient sums over every batch row
    const int64_t k = x[0].size(-1);
    const int64_t cols = out.dim() > 0 ? out.size(-1) : 1;
    return std::max(k, x[0].numel() / k + out.numel() / cols);
  }
  if (op == "conv2d") {
    // forward: C/g * kh * kw; input grad: O/g * kh * kw; weight grad: N * OH * OW
    const Tensor& w = x[1];
    return std::max({w.size(1) * w.size(2) * w.size(3), w.size(0) * w.size(2) * w.size(3),
                     out.size(0) * out.size(2) * out.size(3)});
  }
  if (op == "instance_norm") return x[0].size(0) * x[0].size(2) * x[0].size(3);
  if (op == "avg_pool2d" || op == "upsample_bilinear2d" || op == "upsample_nearest2d") {
    return std::max<int64_t>(16, in_per_out() * 4);
  }
  // broadcasting binary ops and expand sum their gradients over the broadcast dims
  int64_t n = 1;
  for (const Tensor& t : x) n = std::max(n, out.numel() / std::max<int64_t>(1, t.numel()));
  return n;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::abs(v));
  return m;
}

Tol tolerance(const std::string& op, DType dt, int64_t n_terms, const Tensor& want) {
  if (dt == DType::Float64) return {1e-10, 1e-12 * std::sqrt(double(n_terms)) * std::max(1.0, max_abs(want))};
  const double scale = std::max(1.0, max_abs(want));
  return {1e-5, 1e-6 * std::sqrt(double(n_terms)) * scale};
}

struct CaseResult {
  bool ok = true;
  std::string message;
  double worst_abs = 0, worst_rel = 0, worst_ratio = 0;
};

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

// ---------------------------------------------------------------------------------------------
// training: the net of gen_golden.py's make_net, 20 optimizer steps
// ---------------------------------------------------------------------------------------------

struct TrainGolden {
  Meta m;
  std::vector<std::string> names;  // parameter names in state_dict order ("0.weight", ...)
  std::map<std::string, Tensor> init, final;
  Tensor x, target;
  std::vector<double> losses;      // the loss before each step
};

TrainGolden load_train(const fs::path& dir) {
  TrainGolden g;
  g.m = read_meta(dir);
  g.names = g.m.list("params");
  for (const auto& n : g.names) {
    g.init[n] = read_npy(dir / ("init." + n + ".npy"));
    g.final[n] = read_npy(dir / ("final." + n + ".npy"));
  }
  g.x = read_npy(dir / "x.npy");
  g.target = read_npy(dir / "target.npy");
  g.losses = read_npy(dir / "losses.npy").to_vector<double>();
  return g;
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

// Compares the losses seen before each step and the parameters after the last one.
void check_training(const TrainGolden& g, const std::string& label, const std::vector<double>& losses,
                    const std::map<std::string, Tensor>& final_params) {
  REQUIRE(losses.size() == g.losses.size());
  std::ostringstream os;
  os << label << ": loss per step (got / want)";
  bool ok = true;
  double worst = 0;
  for (size_t s = 0; s < losses.size(); ++s) {
    const double err = std::abs(losses[s] - g.losses[s]), rel = err / std::abs(g.losses[s]);
    worst = std::max(worst, rel);
    const bool step_ok = rel <= 1e-4;
    ok = ok && step_ok;
    os << "\n  step " << s << ": " << losses[s] << " / " << g.losses[s] << " (rel err " << rel << ")"
       << (step_ok ? "" : "  FAIL");
  }
  os << "\n  max rel err of the losses: " << worst;
  for (const auto& n : g.names) {
    const Tensor& want = g.final.at(n);
    const Cmp c = compare("final " + n, final_params.at(n), want, {1e-4, 1e-4 * std::max(1.0, max_abs(want))});
    ok = ok && c.ok;
    os << "\n  " << (c.ok ? "ok   " : "FAIL ") << c.message;
  }
  if (report_all()) MESSAGE(os.str());
  CHECK_MESSAGE(ok, os.str());
}

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

// ---------------------------------------------------------------------------------------------
// layers/: a torch.nn module's state_dict loaded into the StyleNet layer of the same type
// ---------------------------------------------------------------------------------------------

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
  for (const auto& n : case_names(dir)) {
    const Meta m = read_meta(dir / n);
    if (m.str("kind") == "op") covered.insert(m.str("op"));
  }
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
  for (const auto& name : case_names(dir)) {
    const Meta m = read_meta(dir / name);
    if (m.str("kind") != "op") continue;
    ++n_cases;
    CaseResult r;
    try {
      r = run_op_case(dir / name, m);
    } catch (const std::exception& e) {
      r.ok = false;
      r.message = name + " (op " + m.str("op") + "): threw: " + e.what();
    }
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
  for (const auto& name : case_names(dir)) {
    if (read_meta(dir / name).str("kind") != "train") continue;
    ++n;
    INFO("case ", name);
    run_functional_training(dir / name);
  }
  CHECK(n >= 1);
}

TEST_CASE("parity: layers/ modules with a PyTorch state_dict match torch.nn") {
  const fs::path dir = golden_dir();
  int n = 0;
  for (const auto& name : case_names(dir)) {
    const Meta m = read_meta(dir / name);
    if (m.str("kind") != "layer") continue;
    ++n;
    CaseResult r;
    try {
      r = run_layer_case(dir / name, m);
    } catch (const std::exception& e) {
      r.ok = false;
      r.message = name + " (layer " + m.str("layer") + "): threw: " + e.what();
    }
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
  for (const auto& name : case_names(dir)) {
    if (read_meta(dir / name).str("kind") != "train") continue;
    ++n;
    INFO("case ", name);
    run_module_training(dir / name);
  }
  CHECK(n >= 3);
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
