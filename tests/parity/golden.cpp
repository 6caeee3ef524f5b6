// The PyTorch parity suite's shared pieces (tests/parity/golden.h).
#include "tests/parity/golden.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace sn::parity {

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

std::vector<GoldenCase> cases_of_kind(const fs::path& golden, const std::string& kind) {
  std::vector<GoldenCase> out;
  for (const auto& name : case_names(golden)) {
    Meta m = read_meta(golden / name);
    if (m.str("kind") == kind) out.push_back({golden / name, name, std::move(m)});
  }
  return out;
}

bool report_all() {
  const char* env = std::getenv("STYLENET_PARITY_REPORT");
  return env != nullptr && *env != '\0' && std::string(env) != "0";
}

namespace {
std::string index_str(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return shape_str(idx);
}

}  // namespace

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

}  // namespace sn::parity
