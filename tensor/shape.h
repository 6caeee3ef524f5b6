// Shapes and strides: pure functions on integer vectors, shared by every op.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/error.h"

namespace sn {

using Shape = std::vector<int64_t>;

// The element count; throws sn::Error when it overflows int64 (shapes read from files).
int64_t numel(const Shape& shape);
// Row-major strides (in elements) for a dense tensor of this shape.
Shape contiguous_strides(const Shape& shape);
// NumPy broadcasting of two shapes; throws naming `op` and both shapes when they are incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Maps a possibly negative dim into [0, ndim); throws naming `op` when out of range.
int64_t normalize_dim(int64_t dim, int64_t ndim, const char* op);
// Validates a shape (no negative sizes) and that its element count does not overflow.
void check_shape(const Shape& shape, const char* op);

}  // namespace sn
