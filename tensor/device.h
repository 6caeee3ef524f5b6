// Where a tensor's storage lives: host memory, or one NVIDIA GPU (the optional CUDA backend,
// tensor/cuda/).
#pragma once
#include <cstdint>
#include <cstdlib>
#include <string>

#include "tensor/error.h"

namespace sn {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  bool operator==(const Device&) const = default;
  std::string str() const { return type == DeviceType::CPU ? "cpu" : "cuda:" + std::to_string(index); }
};

// "cpu", "cuda" (= cuda:0) or "cuda:N", as the CLI's --device takes it. Whether that device exists
// is checked where it is used (cuda::require).
inline Device parse_device(const std::string& s) {
  if (s == "cpu") return {};
  if (s == "cuda") return {DeviceType::CUDA, 0};
  if (s.rfind("cuda:", 0) == 0 && s.size() > 5 && s.size() < 9 &&
      s.find_first_not_of("0123456789", 5) == std::string::npos)
    return {DeviceType::CUDA, std::atoi(s.c_str() + 5)};
  throw Error("unknown device '" + s + "' (expected cpu, cuda or cuda:N)");
}

}  // namespace sn
