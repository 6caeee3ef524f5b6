// The PyTorch parity suite's shared pieces (tests/test_parity.cpp: the ops and the functional
// training; tests/test_parity_layers.cpp: layers/ modules and Sequential + optim/): the golden files
// that tests/parity/gen_golden.py writes, read by readers of their own, the comparison and its
// tolerances, and the training cases' golden run.
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
//     one element (`terms`) and scale is the output's largest magnitude (at least 1). Two
//     different summation orders of n float32 terms differ by about
//     eps * sqrt(n) * (sum of |term|) in the typical case, so an output that cancels to near zero
//     may carry an absolute error at the size of its terms, not of itself; the atol covers that.
//   Training (20 optimizer steps on a small conv net): losses rtol = 1e-4, final parameters
//     rtol = 1e-4 with atol = 1e-4 * (largest |parameter|). Rounding differences of 1e-7 in each
//     step's gradients compound through 20 updates; Adam's m / sqrt(v) amplifies them where a
//     gradient element is near zero. A real bug (a wrong bias correction, a missing weight decay)
//     moves the losses by 1e-2 or more after a few steps.
#pragma once
#include <array>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace sn::parity {

namespace fs = std::filesystem;

// A .npy file: format versions 1-3, little-endian '<f4' / '<f8', C order. Self-contained so the
// parity suite does not depend on the component it may be checking (weights/npy.h).
Tensor read_npy(const fs::path& path);

// meta.txt: key=value lines.
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

Meta read_meta(const fs::path& dir);

// The golden directory (STYLENET_GOLDEN_DIR): the test fails, loudly, where it is not set or holds
// no generated files. Its cases, in index.txt's order.
fs::path golden_dir();
std::vector<std::string> case_names(const fs::path& dir);
// STYLENET_PARITY_REPORT=1: print the largest error of every case, passing or not.
bool report_all();

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

// got against want, element by element: |got - want| <= atol + rtol |want|.
Cmp compare(const std::string& what, const Tensor& got, const Tensor& want, Tol tol);

using Inputs = std::vector<Tensor>;
// How many float32 terms are summed into one element of the output (forward) and of each input
// gradient (backward), for the atol of the tolerance comment at the top. 1 = no sums.
int64_t terms(const std::string& op, const Inputs& x, const Tensor& out);
double max_abs(const Tensor& t);
// The tolerance of an output or gradient of `op` (see the top of this file).
Tol tolerance(const std::string& op, DType dt, int64_t n_terms, const Tensor& want);

// One case's verdict and the largest errors of its outputs and gradients.
struct CaseResult {
  bool ok = true;
  std::string message;
  double worst_abs = 0, worst_rel = 0, worst_ratio = 0;
};

// The golden cases of one kind ("op", "layer", "train"): folder, name and meta.txt, in index order.
struct GoldenCase {
  fs::path dir;
  std::string name;
  Meta meta;
};
std::vector<GoldenCase> cases_of_kind(const fs::path& golden, const std::string& kind);

// run(), a throw counting as the case's failure: `label`, then the exception's message.
template <class Run>
CaseResult run_guarded(const std::string& label, Run&& run) {
  try {
    return run();
  } catch (const std::exception& e) {
    CaseResult r;
    r.ok = false;
    r.message = label + ": threw: " + e.what();
    return r;
  }
}

// The training cases: the net of gen_golden.py's make_net, 20 optimizer steps.
struct TrainGolden {
  Meta m;
  std::vector<std::string> names;  // parameter names in state_dict order ("0.weight", ...)
  std::map<std::string, Tensor> init, final;
  Tensor x, target;
  std::vector<double> losses;      // the loss before each step
};

TrainGolden load_train(const fs::path& dir);
// Compares the losses seen before each step and the parameters after the last one.
void check_training(const TrainGolden& g, const std::string& label, const std::vector<double>& losses,
                    const std::map<std::string, Tensor>& final_params);

}  // namespace sn::parity
