// Where a tensor's storage lives. Only the CPU exists today; the field is here from day one so a
// CUDA backend can be added behind the same Tensor type without touching callers.
#pragma once
#include <string>

namespace sn {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  bool operator==(const Device&) const = default;
  std::string str() const { return type == DeviceType::CPU ? "cpu" : "cuda:" + std::to_string(index); }
};

}  // namespace sn
