#include "tensor/storage.h"

#include <new>

#include "tensor/error.h"

namespace sn {

namespace {
class CpuAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    try {
      return ::operator new(nbytes, std::align_val_t{64});
    } catch (const std::bad_alloc&) {
      throw Error(detail::cat("out of memory: could not allocate ", nbytes, " bytes"));
    }
  }
  void deallocate(void* p) noexcept override {
    if (p) ::operator delete(p, std::align_val_t{64});
  }
};
}  // namespace

Allocator& cpu_allocator() {
  static CpuAllocator a;
  return a;
}

Allocator& allocator_for(Device device) {
  SN_CHECK(device.type == DeviceType::CPU, "device ", device.str(),
           " is not available in this build (only cpu)");
  return cpu_allocator();
}

Storage::Storage(size_t nbytes, Device device)
    : data_(allocator_for(device).allocate(nbytes)), nbytes_(nbytes), device_(device) {}

Storage::~Storage() { allocator_for(device_).deallocate(data_); }

}  // namespace sn
