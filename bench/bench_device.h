// The benchmarks' --device and --tf32 flags and the JSON fields they add, in one place
// (stylenet_vgg_bench, stylenet_stylize_bench; their PyTorch peers take the same flags).
#pragma once
#include <cstdio>
#include <string>

#include "tensor/cuda/cuda.h"
#include "tensor/device.h"

namespace sn::bench {

struct DeviceFlags {
  Device device;
  bool tf32 = false;

  // True when (k, v) was one of the flags.
  bool parse(const std::string& k, const std::string& v) {
    if (k == "--device") device = parse_device(v);
    else if (k == "--tf32") tf32 = v == "on";
    else return false;
    return true;
  }
  // After parsing: the device must exist (one error line otherwise), and TF32 is set.
  void apply() const {
    cuda::require(device);
    cuda::set_tf32(tf32);
  }
  bool gpu() const { return device.type == DeviceType::CUDA; }
  // "device", and on a GPU its name, tf32 and StyleNet's allocator's peak (comparable to
  // torch.cuda.max_memory_allocated); each field followed by ", ".
  void print_json_fields() const {
    if (!gpu()) return (void)std::printf("\"device\": \"cpu\", ");
    std::printf("\"device\": \"cuda\", \"gpu\": \"%s\", \"tf32\": \"%s\", \"peak_gpu_bytes\": %zu, ",
                cuda::device_name(device.index).c_str(), tf32 ? "on" : "off",
                cuda::allocator_stats(device.index).peak_bytes);
  }
};

}  // namespace sn::bench
