// The CUDA backend's runtime, seen from the rest of the library (no CUDA header needed to use it).
//
// StyleNet built without -DSTYLENET_CUDA=ON has the same functions (tensor/cuda/absent.cpp): zero
// devices, and a clear error for anything that asks for one. A build with CUDA on a machine with no
// driver or no GPU also reports zero devices; device_problem() says why.
#pragma once
#include <cstddef>
#include <string>

#include "tensor/device.h"
#include "tensor/storage.h"

namespace sn::cuda {

bool compiled();                 // StyleNet was built with STYLENET_CUDA
int device_count();              // 0 without CUDA support, a driver or a device; never throws
std::string device_problem();    // why device_count() is 0 ("" when it is not)
std::string device_name(int index);
// Throws one clear line when `device` is a CUDA device that this process cannot use.
void require(Device device);

// Caching device allocator (tensor/cuda/allocator.cu): freed blocks are kept in size buckets and
// handed out again; an allocation that fails frees the whole cache and retries once, then throws an
// out-of-memory error that names the request.
Allocator& allocator(int index);
struct AllocatorStats {
  size_t live_bytes = 0;    // blocks in use, at their bucket size
  size_t cached_bytes = 0;  // freed blocks kept for reuse
  size_t peak_bytes = 0;    // high-water mark of live_bytes
  size_t device_mallocs = 0;  // cudaMalloc calls (cache misses)
};
AllocatorStats allocator_stats(int index);
void release_cache();  // every cached block back to the driver (all devices)

// Copies n bytes between any two devices (host memory is Device{}); host <-> GPU goes through a
// pinned staging buffer. Synchronous: when it returns, dst holds the bytes.
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t n);

// Matrix products in TF32 (tensor cores, 10-bit mantissa inputs) instead of true float32. Off by
// default; STYLENET_TF32=1 turns it on for a whole process.
void set_tf32(bool on);
bool tf32();

void synchronize(Device device);  // waits for every kernel queued on the device

}  // namespace sn::cuda
