// The CUDA runtime functions of a build without STYLENET_CUDA: no device, and one clear line for
// anything that asks for one. (The kernels of tensor/cuda/ops.h are never reached: no tensor can
// be placed on a GPU in such a build.)
#include <cstring>

#include "tensor/cuda/cuda.h"
#include "tensor/error.h"

namespace sn::cuda {

namespace {
const char* kWhy = "StyleNet was built without CUDA (configure with -DSTYLENET_CUDA=ON)";
}

bool compiled() { return false; }
int device_count() { return 0; }
std::string device_problem() { return kWhy; }
std::string device_name(int) { throw Error(kWhy); }

void require(Device device) {
  SN_CHECK(device.type != DeviceType::CUDA, "device ", device.str(), " was asked for, but ", kWhy,
           "; use --device cpu");
}

Allocator& allocator(int index) {
  require(Device{DeviceType::CUDA, index});
  throw Error(kWhy);
}
AllocatorStats allocator_stats(int) { return {}; }
void release_cache() {}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t n) {
  require(dst_device);
  require(src_device);
  if (n) std::memcpy(dst, src, n);
}

void set_tf32(bool) {}
bool tf32() { return false; }
void synchronize(Device device) { require(device); }

}  // namespace sn::cuda
