// Whether ops record the graph. Inference runs under NoGradGuard so no activations are kept alive.
#pragma once

namespace sn {

bool grad_enabled();
void set_grad_enabled(bool on);

// Disables graph recording for its scope (torch.no_grad()). Per thread, nests correctly.
class NoGradGuard {
 public:
  NoGradGuard() : prev_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace sn
