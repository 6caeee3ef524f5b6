#include "layers/module.h"

#include <unordered_set>

#include "tensor/random.h"

namespace sn {

namespace {

// Replaces the tensor's storage by a dense copy in `dtype` on `device`, keeping the handle (and so
// every reference held by layers and optimizers) valid.
void convert_in_place(const Tensor& t, DType dtype, Device device) {
  if (t.dtype() == dtype && t.device() == device) return;
  const Tensor converted = t.to(dtype).to(device);
  TensorImpl& impl = t.impl();
  impl.storage = converted.storage();
  impl.offset = 0;
  impl.strides = converted.strides();
  impl.dtype = dtype;
  impl.autograd.grad.reset();  // a gradient of the old dtype or device no longer fits
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out.append(out.empty() ? "" : ", ").append(n);
  return out;
}

}  // namespace

Tensor Module::forward(const Tensor&) {
  throw Error(detail::cat(type_name_, ": forward(x) is not implemented for this module"));
}

void Module::check_new_name(const std::string& name) const {
  SN_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name_, ": invalid member name '", name,
           "' (must be non-empty and contain no '.')");
  auto taken = [&](const auto& list) {
    for (const auto& [n, v] : list)
      if (n == name) return true;
    return false;
  };
  SN_CHECK(!taken(params_) && !taken(buffers_) && !taken(children_), type_name_, ": member '", name,
           "' is already registered");
}

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  check_new_name(name);
  SN_CHECK(t.defined(), type_name_, ": parameter '", name, "' is undefined");
  t.set_requires_grad(true);
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_new_name(name);
  SN_CHECK(t.defined(), type_name_, ": buffer '", name, "' is undefined");
  buffers_.emplace_back(name, t);
  return t;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  check_new_name(name);
  SN_CHECK(m != nullptr, type_name_, ": submodule '", name, "' is null");
  children_.emplace_back(name, std::move(m));
}

void Module::collect(const std::string& prefix, bool params, bool buffers,
                     std::vector<std::pair<std::string, Tensor>>& out) const {
  if (params)
    for (const auto& [n, t] : params_) out.emplace_back(prefix + n, t);
  if (buffers)
    for (const auto& [n, t] : buffers_) out.emplace_back(prefix + n, t);
  for (const auto& [n, child] : children_) child->collect(prefix + n + ".", params, buffers, out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> all, unique;
  collect("", true, false, all);
  std::unordered_set<const TensorImpl*> seen;
  for (auto& item : all)
    if (seen.insert(&item.second.impl()).second) unique.push_back(std::move(item));
  return unique;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", false, true, out);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor& t : parameters()) n += t.numel();
  return n;
}

TensorDict Module::state_dict() const {
  std::vector<std::pair<std::string, Tensor>> all;
  collect("", true, true, all);  // PyTorch's order: parameters, buffers, then each child's
  TensorDict out;
  for (const auto& [n, t] : all) out.insert(n, t.detach());
  return out;
}

void Module::load_state_dict(const TensorDict& dict, bool strict) {
  std::vector<std::pair<std::string, Tensor>> targets;
  collect("", true, true, targets);

  // Validate everything first, so a bad dict leaves the model untouched.
  std::vector<std::string> missing, unexpected;
  std::unordered_set<std::string> known;
  for (const auto& [name, t] : targets) {
    known.insert(name);
    const Tensor* src = dict.find(name);
    if (src == nullptr) {
      missing.push_back(name);
      continue;
    }
    SN_CHECK(src->shape() == t.shape(), "load_state_dict: shape mismatch for '", name, "': the checkpoint has ",
             shape_str(src->shape()), ", the model has ", shape_str(t.shape()));
    SN_CHECK(src->dtype() == t.dtype(), "load_state_dict: dtype mismatch for '", name, "': the checkpoint has ",
             dtype_name(src->dtype()), ", the model has ", dtype_name(t.dtype()));
  }
  for (const auto& [name, t] : dict)
    if (!known.count(name)) unexpected.push_back(name);
  if (strict && (!missing.empty() || !unexpected.empty())) {
    std::string msg = "load_state_dict (" + type_name_ + "):";
    if (!missing.empty()) msg += " missing keys: " + join(missing) + ";";
    if (!unexpected.empty()) msg += " unexpected keys: " + join(unexpected) + ";";
    msg.pop_back();
    throw Error(msg);
  }

  NoGradGuard no_grad;
  for (auto& [name, t] : targets)
    if (const Tensor* src = dict.find(name)) t.copy_from(*src);
}

void Module::train(bool on) {
  training_ = on;
  for (const auto& [n, c] : children_) c->train(on);
}

void Module::zero_grad() {
  for (const Tensor& p : parameters()) p.set_grad(Tensor());
}

void Module::to(DType dtype) {
  std::vector<std::pair<std::string, Tensor>> all;
  collect("", true, true, all);
  for (const auto& [n, t] : all) convert_in_place(t, dtype, t.device());
}

void Module::to(Device device) {
  std::vector<std::pair<std::string, Tensor>> all;
  collect("", true, true, all);
  for (const auto& [n, t] : all) convert_in_place(t, t.dtype(), device);
}

std::string Module::str() const {
  std::string out;
  str_into(out, 0);
  return out;
}

void Module::str_into(std::string& out, int indent) const {
  out += type_name_ + "(" + extra_repr();
  if (!children_.empty()) {
    out += "\n";
    for (const auto& [n, c] : children_) {
      out += std::string(indent + 2, ' ') + "(" + n + "): ";
      c->str_into(out, indent + 2);
      out += "\n";
    }
    out += std::string(indent, ' ');
  }
  out += ")";
}

Generator& default_generator() {
  static Generator gen(0x5EED5EED5EEDull);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().seed(seed); }

}  // namespace sn
