#include "optim/optimizer.h"

#include <algorithm>
#include <charconv>
#include <optional>

namespace sn {

namespace {

constexpr const char* kGroupFields[] = {"lr", "weight_decay", "num_params"};

std::string group_key(size_t g, const char* field) {
  return "param_groups." + std::to_string(g) + "." + field;
}

// "state.<index>.<name>" -> (index, name); nullopt for any other key.
std::optional<std::pair<size_t, std::string>> parse_state_key(const std::string& key) {
  constexpr std::string_view prefix = "state.";
  if (!key.starts_with(prefix)) return std::nullopt;
  const size_t dot = key.find('.', prefix.size());
  if (dot == std::string::npos) return std::nullopt;
  size_t index = 0;
  const char* b = key.data() + prefix.size();
  const char* e = key.data() + dot;
  const auto [p, ec] = std::from_chars(b, e, index);
  if (ec != std::errc() || p != e || b == e) return std::nullopt;
  return std::pair{index, key.substr(dot + 1)};
}

}  // namespace

Optimizer::Optimizer(std::string name, std::vector<ParamGroup> groups, std::vector<std::string> state_names)
    : name_(std::move(name)), groups_(std::move(groups)), state_names_(std::move(state_names)) {
  size_t n = 0;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const ParamGroup& group = groups_[g];
    SN_CHECK(group.lr >= 0, name_, ": invalid learning rate ", group.lr, " in group ", g);
    SN_CHECK(group.weight_decay >= 0, name_, ": invalid weight_decay ", group.weight_decay, " in group ", g);
    for (const Tensor& p : group.params) {
      SN_CHECK(p.defined() && p.requires_grad() && p.is_leaf(), name_, ": parameter ", n,
               " must be a leaf tensor that requires grad");
      SN_CHECK(p.is_contiguous(), name_, ": parameter ", n, " of shape ", shape_str(p.shape()),
               " is not contiguous (updates run on the raw data)");
      ++n;
    }
  }
  state_.resize(n);
}

void Optimizer::zero_grad() {
  for (const ParamGroup& group : groups_)
    for (const Tensor& p : group.params) p.set_grad(Tensor());
}

Tensor Optimizer::checked_grad(const Tensor& param, size_t index) const {
  const Tensor g = param.grad();
  if (!g.defined()) return g;
  SN_CHECK(g.shape() == param.shape() && g.dtype() == param.dtype(), name_, ": gradient of parameter ", index,
           " is ", dtype_name(g.dtype()), " ", shape_str(g.shape()), ", expected ", dtype_name(param.dtype()), " ",
           shape_str(param.shape()));
  return g.contiguous();
}

double Optimizer::increment_step(size_t index) {
  Tensor& step = state(index, "step");
  if (!step.defined()) step = Tensor::scalar(0.0, DType::Float64);
  double* s = step.data<double>();
  return *s += 1.0;
}

TensorDict Optimizer::state_dict() const {
  TensorDict out;
  for (size_t g = 0; g < groups_.size(); ++g) {
    out.insert(group_key(g, "lr"), Tensor::scalar(groups_[g].lr, DType::Float64));
    out.insert(group_key(g, "weight_decay"), Tensor::scalar(groups_[g].weight_decay, DType::Float64));
    out.insert(group_key(g, "num_params"), Tensor::scalar(static_cast<double>(groups_[g].params.size()), DType::Float64));
  }
  for (size_t i = 0; i < state_.size(); ++i)
    for (const auto& [key, t] : state_[i])  // entries an option leaves unused (amsgrad off) stay undefined
      if (t.defined()) out.insert("state." + std::to_string(i) + "." + key, t.clone_data());
  return out;
}

void Optimizer::load_state_dict(const TensorDict& dict) {
  const std::string where = name_ + ".load_state_dict: ";
  std::vector<Tensor> params;
  for (const ParamGroup& group : groups_) params.insert(params.end(), group.params.begin(), group.params.end());

  auto scalar = [&](const std::string& key) {
    const Tensor* t = dict.find(key);
    SN_CHECK(t != nullptr, where, "missing key '", key, "'");
    SN_CHECK(t->numel() == 1, where, "'", key, "' must hold one value, got shape ", shape_str(t->shape()));
    return t->item();
  };
  // Check everything first: a bad dict must not leave the optimizer half-restored.
  for (size_t g = 0; g < groups_.size(); ++g) {
    const double n = scalar(group_key(g, "num_params"));
    SN_CHECK(n == static_cast<double>(groups_[g].params.size()), where, "group ", g, " has ", groups_[g].params.size(),
             " parameters but the saved state has ", n);
    scalar(group_key(g, "lr"));
    scalar(group_key(g, "weight_decay"));
  }
  std::vector<std::map<std::string, Tensor>> new_state(state_.size());
  for (const auto& [key, t] : dict) {
    if (key.starts_with("param_groups.")) {
      bool known = false;
      for (size_t g = 0; g < groups_.size() && !known; ++g)
        for (const char* f : kGroupFields) known = known || key == group_key(g, f);
      SN_CHECK(known, where, "unexpected key '", key, "' (the saved optimizer had more parameter groups?)");
      continue;
    }
    const auto parsed = parse_state_key(key);
    SN_CHECK(parsed.has_value(), where, "unexpected key '", key, "'");
    const auto& [index, name] = *parsed;
    SN_CHECK(index < params.size(), where, "'", key, "' refers to parameter ", index, " but there are only ",
             params.size());
    SN_CHECK(std::find(state_names_.begin(), state_names_.end(), name) != state_names_.end(), where,
             "unexpected key '", key, "' (", name_, " keeps no state named '", name, "')");
    const bool is_step = name == "step";
    const Shape want_shape = is_step ? Shape{} : params[index].shape();
    const DType want_dtype = is_step ? DType::Float64 : params[index].dtype();
    SN_CHECK(t.shape() == want_shape && t.dtype() == want_dtype, where, "'", key, "' is ", dtype_name(t.dtype()), " ",
             shape_str(t.shape()), ", expected ", dtype_name(want_dtype), " ", shape_str(want_shape));
    // An own copy (the dict may alias a file or another run), beside its parameter (a checkpoint
    // written on one device resumes on another); step counters stay on the host.
    const Device device = is_step ? Device{} : params[index].device();
    new_state[index][name] = t.device() == device ? t.clone_data() : t.to(device);
  }

  for (size_t g = 0; g < groups_.size(); ++g) {
    groups_[g].lr = scalar(group_key(g, "lr"));
    groups_[g].weight_decay = scalar(group_key(g, "weight_decay"));
  }
  state_ = std::move(new_state);
}

}  // namespace sn
