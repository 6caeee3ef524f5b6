#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/ops.h"
#include "tensor/random.h"

namespace sn {

namespace {
// Storage offsets (in elements) of every logical element of t, in row-major order.
std::vector<int64_t> element_offsets(const Tensor& t) {
  std::vector<int64_t> offs;
  std::vector<int64_t> idx(t.dim(), 0);
  for (int64_t n = 0; n < t.numel(); ++n) {
    int64_t o = 0;
    for (int64_t d = 0; d < t.dim(); ++d) o += idx[d] * t.strides()[d];
    offs.push_back(o);
    for (int64_t d = t.dim() - 1; d >= 0; --d) {
      if (++idx[d] < t.shape()[d]) break;
      idx[d] = 0;
    }
  }
  return offs;
}
}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& opt) {
  for (const Tensor& x : inputs) {
    SN_CHECK(!x.defined() || x.dtype() == DType::Float64, "gradcheck: inputs must be float64");
    if (!x.defined()) continue;
    for (int64_t d = 0; d < x.dim(); ++d)
      SN_CHECK(x.strides()[d] != 0 || x.shape()[d] <= 1, "gradcheck: input of shape ",
               shape_str(x.shape()), " is expanded (stride 0)");
  }
  const Tensor out0 = fn(inputs);
  Generator gen(opt.seed);
  const Tensor w = Tensor::randn(out0.shape(), gen, DType::Float64);
  auto loss = [&](const std::vector<Tensor>& xs) { return sum(mul(fn(xs), w)); };

  std::vector<Tensor> wrt;
  for (const Tensor& x : inputs)
    if (x.defined() && x.requires_grad()) wrt.push_back(x);
  SN_CHECK(!wrt.empty(), "gradcheck: no input requires grad");
  const std::vector<Tensor> analytic = grad({loss(inputs)}, wrt);

  GradcheckResult res;
  NoGradGuard no_grad;
  for (size_t k = 0; k < wrt.size(); ++k) {
    const Tensor& x = wrt[k];
    double* base = x.data<double>();
    const std::vector<int64_t> offs = element_offsets(x);
    const std::vector<double> a = analytic[k].to_vector<double>();
    for (size_t i = 0; i < offs.size(); ++i) {
      double& v = base[offs[i]];
      const double saved = v;
      v = saved + opt.eps;
      x.mark_written();
      const double lp = loss(inputs).item();
      v = saved - opt.eps;
      x.mark_written();
      const double lm = loss(inputs).item();
      v = saved;
      x.mark_written();
      const double numeric = (lp - lm) / (2 * opt.eps);
      const double err = std::abs(numeric - a[i]);
      res.max_abs_err = std::max(res.max_abs_err, err);
      if (res.ok && !(err <= opt.atol + opt.rtol * std::abs(numeric))) {
        std::ostringstream os;
        os << "input " << k << " " << shape_str(x.shape()) << " element " << i << ": analytic "
           << a[i] << " vs numeric " << numeric << " (abs err " << err << ")";
        res.ok = false;
        res.message = os.str();
      }
    }
  }
  return res;
}

}  // namespace sn
