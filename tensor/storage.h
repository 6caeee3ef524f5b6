// A reference-counted block of memory on a device. Views share one Storage; the last owner frees it.
#pragma once
#include <cstddef>
#include <memory>

#include "tensor/device.h"

namespace sn {

// Device memory comes from an Allocator so that a CUDA backend only has to provide another one.
class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* p) noexcept = 0;
};

// 64-byte aligned host memory (one cache line, one AVX-512 vector).
Allocator& cpu_allocator();
Allocator& allocator_for(Device device);

class Storage {
 public:
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
};

}  // namespace sn
