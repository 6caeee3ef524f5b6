// Learning-rate schedules.
//
// An LRSchedule is a pure function (base_lr, step) -> lr, written in the closed forms of
// torch.optim.lr_scheduler; an LRScheduler applies one to an optimizer's groups and counts steps.
// Like PyTorch, constructing the scheduler sets the step-0 rate, and each scheduler.step() (after
// optimizer.step()) moves to the next, so training step t runs with lr(base_lr, t).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "optim/optimizer.h"

namespace sn {

class LRSchedule {
 public:
  virtual ~LRSchedule() = default;
  virtual double lr(double base_lr, int64_t step) const = 0;
};

// lr = base_lr.
class ConstantSchedule final : public LRSchedule {
 public:
  double lr(double base_lr, int64_t) const override { return base_lr; }
};

// lr = base_lr * gamma^floor(step / step_size)   (torch StepLR).
class StepLR final : public LRSchedule {
 public:
  explicit StepLR(int64_t step_size, double gamma = 0.1);
  double lr(double base_lr, int64_t step) const override;

 private:
  int64_t step_size_;
  double gamma_;
};

// lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * step / t_max)) / 2   (torch
// CosineAnnealingLR's closed form; past t_max it continues along the cosine, as PyTorch's does).
class CosineAnnealingLR final : public LRSchedule {
 public:
  explicit CosineAnnealingLR(int64_t t_max, double eta_min = 0.0);
  double lr(double base_lr, int64_t step) const override;

 private:
  int64_t t_max_;
  double eta_min_;
};

// Ramps a factor linearly from start_factor (step 0) to 1 (step warmup_steps and after) and
// multiplies the wrapped schedule's rate by it: lr = factor(step) * inner(base_lr, step).
// With no inner schedule this is torch LinearLR(start_factor, end_factor=1, total_iters); with
// one it is ChainedScheduler([LinearLR, inner]) in closed form.
class LinearWarmup final : public LRSchedule {
 public:
  explicit LinearWarmup(int64_t warmup_steps, double start_factor = 1.0 / 3.0,
                        std::shared_ptr<const LRSchedule> inner = nullptr);
  double lr(double base_lr, int64_t step) const override;

 private:
  int64_t warmup_steps_;
  double start_factor_;
  std::shared_ptr<const LRSchedule> inner_;
};

class LRScheduler {
 public:
  // Takes each group's current lr as its base lr and sets the step-0 rate.
  LRScheduler(Optimizer& optimizer, std::shared_ptr<const LRSchedule> schedule);

  void step();
  int64_t last_step() const { return step_; }
  std::vector<double> last_lr() const;
  const std::vector<double>& base_lrs() const { return base_lrs_; }

  // "last_step" and "base_lr.<g>" as float64 scalars.
  TensorDict state_dict() const;
  // Restores the step and base rates and sets the optimizer's rates to match.
  void load_state_dict(const TensorDict& dict);

 private:
  Optimizer& optimizer_;
  std::shared_ptr<const LRSchedule> schedule_;
  std::vector<double> base_lrs_;
  int64_t step_ = 0;

  void apply();
};

}  // namespace sn
