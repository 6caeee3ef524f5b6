// Padding layers (torch.nn.ReflectionPad2d / ZeroPad2d). Reflection padding in front of a
// convolution avoids the dark borders zero padding leaves in generated images.
#pragma once
#include <array>

#include "autograd/nn_ops.h"
#include "layers/module.h"

namespace sn {

class Pad2d : public Module {
 public:
  Tensor forward(const Tensor& x) override { return pad2d(x, lrtb_, mode_); }
  std::string extra_repr() const override;

 protected:
  // (left, right, top, bottom), as torch.nn.functional.pad.
  Pad2d(const char* type_name, PadMode mode, std::array<int64_t, 4> lrtb);

 private:
  PadMode mode_;
  std::array<int64_t, 4> lrtb_;
};

class ReflectionPad2d : public Pad2d {
 public:
  explicit ReflectionPad2d(int64_t pad) : ReflectionPad2d(pad, pad, pad, pad) {}
  ReflectionPad2d(int64_t left, int64_t right, int64_t top, int64_t bottom)
      : Pad2d("ReflectionPad2d", PadMode::Reflect, {left, right, top, bottom}) {}
};

class ZeroPad2d : public Pad2d {
 public:
  explicit ZeroPad2d(int64_t pad) : ZeroPad2d(pad, pad, pad, pad) {}
  ZeroPad2d(int64_t left, int64_t right, int64_t top, int64_t bottom)
      : Pad2d("ZeroPad2d", PadMode::Zero, {left, right, top, bottom}) {}
};

}  // namespace sn
