// L-BFGS (Nocedal & Wright, Algorithm 7.4 and 7.5) for small full-batch problems such as
// optimising an image (Gatys-style transfer). Unlike the other optimizers it needs to evaluate
// the loss several times per step, so it takes a closure that computes the loss and its
// gradients (as torch.optim.LBFGS does).
//
// Each step(): the two-loop recursion turns the gradient into a search direction using the last
// `history` curvature pairs; a backtracking line search (Armijo condition) picks the step length,
// trying `lr` first. Pairs with non-positive curvature are skipped so the implicit Hessian stays
// positive definite. Work vectors are float64 whatever the parameters' dtype.
#pragma once
#include <deque>
#include <functional>
#include <vector>

#include "autograd/ops.h"

namespace sn {

struct LBFGSOptions {
  double lr = 1.0;           // first step length tried by the line search
  int history = 10;          // curvature pairs kept
  int max_backtracks = 20;   // line-search halvings before giving up on a step
  double armijo = 1e-4;      // sufficient-decrease constant
};

class LBFGS {
 public:
  LBFGS(std::vector<Tensor> params, LBFGSOptions options = {});
  // `closure` zeroes nothing itself: LBFGS clears .grad before each call, the closure builds the
  // loss and calls backward(). Returns the loss after the step.
  double step(const std::function<Tensor()>& closure);

 private:
  std::vector<double> flat_params() const;
  void set_params(const std::vector<double>& x);
  double evaluate(const std::function<Tensor()>& closure, std::vector<double>& grad);

  std::vector<Tensor> params_;
  LBFGSOptions opt_;
  std::deque<std::vector<double>> s_, y_;
  std::deque<double> rho_;
  std::vector<double> x_, g_;
  double f_ = 0;
  bool started_ = false;
};

}  // namespace sn
