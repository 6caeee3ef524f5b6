// Sequential: runs its children in order; they are named "0", "1", ... as in PyTorch, so a
// Sequential's state_dict keys ("3.weight") match torch.nn.Sequential's.
#pragma once
#include <initializer_list>

#include "layers/module.h"

namespace sn {

class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules);

  Sequential& push_back(std::shared_ptr<Module> m);
  size_t size() const { return children().size(); }
  const std::shared_ptr<Module>& operator[](size_t i) const;

  Tensor forward(const Tensor& x) override;
};

// std::make_shared cannot forward a braced list: make_sequential({conv, relu, ...}).
inline std::shared_ptr<Sequential> make_sequential(std::initializer_list<std::shared_ptr<Module>> modules) {
  return std::make_shared<Sequential>(modules);
}

}  // namespace sn
