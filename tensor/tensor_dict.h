// TensorDict: an insertion-ordered name -> Tensor map, the currency of state_dicts, optimizer
// state and weight files (like PyTorch's OrderedDict state_dict).
//
// Order matters for printing and for matching PyTorch's parameter order; lookups by name are
// hashed. Keys are unique: insert() refuses a duplicate, set() replaces.
#pragma once
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace sn {

class TensorDict {
 public:
  using Item = std::pair<std::string, Tensor>;

  // Adds a new key; throws if it is already present (a name collision is always a bug).
  void insert(const std::string& key, const Tensor& value);
  // Adds or replaces.
  void set(const std::string& key, const Tensor& value);
  bool contains(const std::string& key) const { return index_.count(key) != 0; }
  // Throws naming the key when absent.
  const Tensor& at(const std::string& key) const;
  // nullptr when absent.
  const Tensor* find(const std::string& key) const;
  bool erase(const std::string& key);

  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  std::vector<std::string> keys() const;
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

  // The entries whose key starts with `prefix`, with the prefix removed ("model.conv.weight" ->
  // "conv.weight" for prefix "model.").
  TensorDict strip_prefix(const std::string& prefix) const;
  // Every key with `prefix` put in front; the inverse of strip_prefix.
  TensorDict add_prefix(const std::string& prefix) const;

 private:
  std::vector<Item> items_;
  std::unordered_map<std::string, size_t> index_;  // key -> position in items_
};

}  // namespace sn
