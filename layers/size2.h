// A (height, width) pair for kernel sizes, strides and paddings; converts from a single integer
// the way PyTorch accepts `kernel_size=3` for (3, 3).
#pragma once
#include <array>
#include <cstdint>
#include <string>

namespace sn {

struct Size2 {
  int64_t h = 0, w = 0;
  Size2(int64_t both) : h(both), w(both) {}  // NOLINT: implicit on purpose
  Size2(int64_t h_, int64_t w_) : h(h_), w(w_) {}
  std::array<int64_t, 2> array() const { return {h, w}; }
  std::string str() const {
    std::string s = "(";
    return s.append(std::to_string(h)).append(", ").append(std::to_string(w)).append(")");
  }
  bool operator==(const Size2&) const = default;
};

}  // namespace sn
