#include "layers/padding.h"

namespace sn {

Pad2d::Pad2d(const char* type_name, PadMode mode, std::array<int64_t, 4> lrtb)
    : Module(type_name), mode_(mode), lrtb_(lrtb) {
  for (int64_t p : lrtb) SN_CHECK(p >= 0, type_name, ": padding must be non-negative, got ", p);
}

std::string Pad2d::extra_repr() const {
  std::string s = "(";
  for (size_t i = 0; i < lrtb_.size(); ++i) s.append(i ? ", " : "").append(std::to_string(lrtb_[i]));
  return s + ")";
}

}  // namespace sn
