// The bound on each allocation stb_image makes while it decodes one image (vision/stb_impl.cpp).
// decode_image sets it from the image's own size, so corrupt data cannot make stb allocate more
// than the picture needs.
#pragma once
#include <cstddef>

namespace sn::detail {

extern thread_local size_t stb_allocation_limit;

// Sets the limit for this thread while in scope.
class StbAllocationLimit {
 public:
  explicit StbAllocationLimit(size_t bytes) : saved_(stb_allocation_limit) { stb_allocation_limit = bytes; }
  ~StbAllocationLimit() { stb_allocation_limit = saved_; }
  StbAllocationLimit(const StbAllocationLimit&) = delete;
  StbAllocationLimit& operator=(const StbAllocationLimit&) = delete;

 private:
  size_t saved_;
};

}  // namespace sn::detail
