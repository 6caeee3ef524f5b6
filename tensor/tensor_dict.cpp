#include "tensor/tensor_dict.h"

namespace sn {

void TensorDict::insert(const std::string& key, const Tensor& value) {
  SN_CHECK(!contains(key), "TensorDict: duplicate key '", key, "'");
  index_.emplace(key, items_.size());
  items_.emplace_back(key, value);
}

void TensorDict::set(const std::string& key, const Tensor& value) {
  auto it = index_.find(key);
  if (it == index_.end()) return insert(key, value);
  items_[it->second].second = value;
}

const Tensor& TensorDict::at(const std::string& key) const {
  const Tensor* t = find(key);
  SN_CHECK(t != nullptr, "TensorDict: no key '", key, "'");
  return *t;
}

const Tensor* TensorDict::find(const std::string& key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &items_[it->second].second;
}

bool TensorDict::erase(const std::string& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return false;
  const size_t pos = it->second;
  items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(pos));
  index_.erase(it);
  for (auto& [k, i] : index_)
    if (i > pos) --i;
  return true;
}

std::vector<std::string> TensorDict::keys() const {
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (const auto& [k, v] : items_) out.push_back(k);
  return out;
}

TensorDict TensorDict::strip_prefix(const std::string& prefix) const {
  TensorDict out;
  for (const auto& [k, v] : items_)
    if (k.starts_with(prefix)) out.insert(k.substr(prefix.size()), v);
  return out;
}

TensorDict TensorDict::add_prefix(const std::string& prefix) const {
  TensorDict out;
  for (const auto& [k, v] : items_) out.insert(prefix + k, v);
  return out;
}

}  // namespace sn
