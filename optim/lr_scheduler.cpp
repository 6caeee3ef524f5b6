#include "optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace sn {

StepLR::StepLR(int64_t step_size, double gamma) : step_size_(step_size), gamma_(gamma) {
  SN_CHECK(step_size > 0, "StepLR: step_size must be positive, got ", step_size);
}

double StepLR::lr(double base_lr, int64_t step) const {
  return base_lr * std::pow(gamma_, static_cast<double>(step / step_size_));
}

CosineAnnealingLR::CosineAnnealingLR(int64_t t_max, double eta_min) : t_max_(t_max), eta_min_(eta_min) {
  SN_CHECK(t_max > 0, "CosineAnnealingLR: t_max must be positive, got ", t_max);
}

double CosineAnnealingLR::lr(double base_lr, int64_t step) const {
  const double phase = std::numbers::pi * static_cast<double>(step) / static_cast<double>(t_max_);
  return eta_min_ + (base_lr - eta_min_) * (1 + std::cos(phase)) / 2;
}

LinearWarmup::LinearWarmup(int64_t warmup_steps, double start_factor, std::shared_ptr<const LRSchedule> inner)
    : warmup_steps_(warmup_steps), start_factor_(start_factor), inner_(std::move(inner)) {
  SN_CHECK(warmup_steps > 0, "LinearWarmup: warmup_steps must be positive, got ", warmup_steps);
  SN_CHECK(start_factor > 0 && start_factor <= 1, "LinearWarmup: start_factor must be in (0, 1], got ", start_factor);
}

double LinearWarmup::lr(double base_lr, int64_t step) const {
  const double done = static_cast<double>(std::min(step, warmup_steps_)) / static_cast<double>(warmup_steps_);
  const double factor = start_factor_ + (1.0 - start_factor_) * done;
  return factor * (inner_ ? inner_->lr(base_lr, step) : base_lr);
}

LRScheduler::LRScheduler(Optimizer& optimizer, std::shared_ptr<const LRSchedule> schedule)
    : optimizer_(optimizer), schedule_(std::move(schedule)) {
  SN_CHECK(schedule_ != nullptr, "LRScheduler: schedule is null");
  for (const ParamGroup& g : optimizer_.param_groups()) base_lrs_.push_back(g.lr);
  apply();
}

void LRScheduler::step() {
  ++step_;
  apply();
}

void LRScheduler::apply() {
  auto& groups = optimizer_.param_groups();
  SN_CHECK(groups.size() == base_lrs_.size(), "LRScheduler: the optimizer has ", groups.size(),
           " parameter groups, the scheduler was built for ", base_lrs_.size());
  for (size_t g = 0; g < groups.size(); ++g) groups[g].lr = schedule_->lr(base_lrs_[g], step_);
}

std::vector<double> LRScheduler::last_lr() const {
  std::vector<double> out;
  for (const ParamGroup& g : optimizer_.param_groups()) out.push_back(g.lr);
  return out;
}

TensorDict LRScheduler::state_dict() const {
  TensorDict out;
  out.insert("last_step", Tensor::scalar(static_cast<double>(step_), DType::Float64));
  for (size_t g = 0; g < base_lrs_.size(); ++g)
    out.insert("base_lr." + std::to_string(g), Tensor::scalar(base_lrs_[g], DType::Float64));
  return out;
}

void LRScheduler::load_state_dict(const TensorDict& dict) {
  SN_CHECK(dict.size() == base_lrs_.size() + 1, "LRScheduler.load_state_dict: expected last_step and ",
           base_lrs_.size(), " base_lr entries, got ", dict.size(), " keys");
  const double step = dict.at("last_step").item();
  SN_CHECK(step >= 0 && step == std::floor(step), "LRScheduler.load_state_dict: invalid last_step ", step);
  std::vector<double> base(base_lrs_.size());
  for (size_t g = 0; g < base.size(); ++g) base[g] = dict.at("base_lr." + std::to_string(g)).item();
  step_ = static_cast<int64_t>(step);
  base_lrs_ = std::move(base);
  apply();
}

}  // namespace sn
