#include "optim/lbfgs.h"

#include <cmath>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "tensor/error.h"

namespace sn {

namespace {

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

LBFGS::LBFGS(std::vector<Tensor> params, LBFGSOptions options) : params_(std::move(params)), opt_(options) {
  SN_CHECK(!params_.empty(), "LBFGS: no parameters");
  SN_CHECK(opt_.lr > 0 && opt_.history >= 1, "LBFGS: lr must be > 0 and history >= 1");
  for (const Tensor& p : params_) SN_CHECK(p.is_contiguous(), "LBFGS: parameters must be contiguous");
}

std::vector<double> LBFGS::flat_params() const {
  std::vector<double> x;
  for (const Tensor& p : params_) {
    const std::vector<double> v = p.to_vector<double>();
    x.insert(x.end(), v.begin(), v.end());
  }
  return x;
}

void LBFGS::set_params(const std::vector<double>& x) {
  NoGradGuard ng;
  size_t at = 0;
  for (Tensor p : params_) {  // a handle: copy_from writes the shared storage
    const int64_t n = p.numel();
    std::vector<double> v(x.begin() + at, x.begin() + at + n);
    p.copy_from(Tensor::from_vector(v, p.shape()).to(p.dtype()));
    at += n;
  }
}

double LBFGS::evaluate(const std::function<Tensor()>& closure, std::vector<double>& grad) {
  for (const Tensor& p : params_) p.set_grad(Tensor());
  const Tensor loss = closure();
  grad.clear();
  for (const Tensor& p : params_) {
    const Tensor g = p.grad();
    if (!g.defined()) {
      grad.insert(grad.end(), p.numel(), 0.0);
    } else {
      const std::vector<double> v = g.to_vector<double>();
      grad.insert(grad.end(), v.begin(), v.end());
    }
  }
  return loss.item();
}

double LBFGS::step(const std::function<Tensor()>& closure) {
  if (!started_) {
    x_ = flat_params();
    f_ = evaluate(closure, g_);
    started_ = true;
  }
  // Two-loop recursion: d = -H g.
  std::vector<double> q = g_;
  std::vector<double> alpha(s_.size());
  for (size_t i = s_.size(); i-- > 0;) {
    alpha[i] = rho_[i] * dot(s_[i], q);
    for (size_t j = 0; j < q.size(); ++j) q[j] -= alpha[i] * y_[i][j];
  }
  // Initial Hessian scale gamma = s'y / y'y (most recent pair); without history, a step of
  // length lr along the normalised gradient.
  const double gamma = s_.empty() ? 1.0 / std::max(1e-12, std::sqrt(dot(g_, g_))) : 1.0 / (rho_.back() * dot(y_.back(), y_.back()));
  for (double& v : q) v *= gamma;
  for (size_t i = 0; i < s_.size(); ++i) {
    const double beta = rho_[i] * dot(y_[i], q);
    for (size_t j = 0; j < q.size(); ++j) q[j] += s_[i][j] * (alpha[i] - beta);
  }
  std::vector<double> d(q.size());
  for (size_t j = 0; j < q.size(); ++j) d[j] = -q[j];
  double slope = dot(g_, d);
  if (slope >= 0) {  // not a descent direction (numerical trouble): restart from steepest descent
    s_.clear(), y_.clear(), rho_.clear();
    for (size_t j = 0; j < d.size(); ++j) d[j] = -g_[j] / std::max(1e-12, std::sqrt(dot(g_, g_)));
    slope = dot(g_, d);
  }

  // Backtracking line search with the Armijo condition.
  double t = opt_.lr;
  std::vector<double> x_new(x_.size()), g_new;
  double f_new = f_;
  bool accepted = false;
  for (int k = 0; k <= opt_.max_backtracks; ++k, t *= 0.5) {
    for (size_t j = 0; j < x_.size(); ++j) x_new[j] = x_[j] + t * d[j];
    set_params(x_new);
    f_new = evaluate(closure, g_new);
    if (std::isfinite(f_new) && f_new <= f_ + opt_.armijo * t * slope) {
      accepted = true;
      break;
    }
  }
  if (!accepted) {  // no decrease found: stay where we were
    set_params(x_);
    s_.clear(), y_.clear(), rho_.clear();
    return f_;
  }
  std::vector<double> s(x_.size()), y(x_.size());
  for (size_t j = 0; j < x_.size(); ++j) s[j] = x_new[j] - x_[j], y[j] = g_new[j] - g_[j];
  const double sy = dot(s, y);
  if (sy > 1e-10) {
    s_.push_back(std::move(s));
    y_.push_back(std::move(y));
    rho_.push_back(1.0 / sy);
    if (static_cast<int>(s_.size()) > opt_.history) s_.pop_front(), y_.pop_front(), rho_.pop_front();
  }
  x_ = std::move(x_new);
  g_ = std::move(g_new);
  f_ = f_new;
  return f_;
}

}  // namespace sn
