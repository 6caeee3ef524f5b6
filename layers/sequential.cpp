#include "layers/sequential.h"

namespace sn {

Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> modules) : Module("Sequential") {
  for (const auto& m : modules) push_back(m);
}

Sequential& Sequential::push_back(std::shared_ptr<Module> m) {
  add_child(std::to_string(size()), std::move(m));
  return *this;
}

const std::shared_ptr<Module>& Sequential::operator[](size_t i) const {
  SN_CHECK(i < size(), "Sequential: index ", i, " out of range for ", size(), " modules");
  return children()[i].second;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (const auto& [name, m] : children()) h = m->forward(h);
  return h;
}

}  // namespace sn
