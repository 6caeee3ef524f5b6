// Small helpers shared by the binary file readers: little-endian integers and overflow-safe sizes.
#pragma once
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>

#include "tensor/shape.h"

namespace sn {

// The unsigned little-endian integer of `nbytes` (<= 8) bytes at b[pos]; the caller checks bounds.
inline uint64_t read_le(std::string_view b, size_t pos, int nbytes) {
  uint64_t v = 0;
  for (int i = nbytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[pos + i]);
  return v;
}

// numel(shape) * elem_size, or nullopt when it does not fit in 64 bits (a hostile header).
inline std::optional<uint64_t> checked_nbytes(const Shape& shape, uint64_t elem_size) {
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  uint64_t n = elem_size;
  for (int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return std::nullopt;
  return n;
}

}  // namespace sn
