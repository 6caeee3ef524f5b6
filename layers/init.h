// Weight initializers with torch.nn.init's formulas, drawing from an sn::Generator so the same
// seed gives the same weights on every machine and compiler. Each fills `t` in place (its
// storage is kept, so handles held elsewhere see the new values) and records no graph.
#pragma once
#include <cstdint>
#include <utility>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace sn::init {

enum class FanMode { FanIn, FanOut };
enum class Nonlinearity { Linear, Conv, Sigmoid, Tanh, ReLU, LeakyReLU };

// torch.nn.init.calculate_gain; `param` is LeakyReLU's negative slope.
double calculate_gain(Nonlinearity nl, double param = 0.01);
// (fan_in, fan_out) of a weight [out, in, *kernel] as PyTorch computes them; needs >= 2 dims.
std::pair<int64_t, int64_t> fan_in_and_fan_out(const Tensor& t);

// While one is alive on this thread, the random initializers (uniform_, normal_ and all those
// built on them) leave tensors as they are, and draw nothing: for modules built only to receive a
// complete state dict (a model file being loaded, with a strict load after), where drawing the
// weights first is wasted work. Nests.
class SkipRandomInit {
 public:
  SkipRandomInit();
  ~SkipRandomInit();
  SkipRandomInit(const SkipRandomInit&) = delete;
  SkipRandomInit& operator=(const SkipRandomInit&) = delete;
};

void uniform_(const Tensor& t, Generator& gen, double lo = 0.0, double hi = 1.0);
void normal_(const Tensor& t, Generator& gen, double mean = 0.0, double std = 1.0);
void constant_(const Tensor& t, double value);
void zeros_(const Tensor& t);
void ones_(const Tensor& t);

// U(-b, b) with b = gain * sqrt(3 / fan), gain = calculate_gain(nl, a). PyTorch's defaults:
// a = 0, fan_in, leaky_relu (so gain = sqrt(2)).
void kaiming_uniform_(const Tensor& t, Generator& gen, double a = 0.0, FanMode mode = FanMode::FanIn,
                      Nonlinearity nl = Nonlinearity::LeakyReLU);
// N(0, std^2) with std = gain / sqrt(fan).
void kaiming_normal_(const Tensor& t, Generator& gen, double a = 0.0, FanMode mode = FanMode::FanIn,
                     Nonlinearity nl = Nonlinearity::LeakyReLU);
// U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)).
void xavier_uniform_(const Tensor& t, Generator& gen, double gain = 1.0);
// N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).
void xavier_normal_(const Tensor& t, Generator& gen, double gain = 1.0);

// The default of torch.nn.Conv2d and Linear: kaiming_uniform_(w, a = sqrt(5)), which is
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias.
void default_layer_init_(const Tensor& weight, const Tensor& bias, Generator& gen);

}  // namespace sn::init
