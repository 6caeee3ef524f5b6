// Element types and the one place that turns a run-time dtype into a compile-time type.
#pragma once
#include <cstddef>
#include <cstdint>

#include "tensor/error.h"

namespace sn {

// float32 is the working type; float64 exists so finite-difference gradient checks are exact enough.
enum class DType : uint8_t { Float32, Float64 };

inline size_t dtype_size(DType t) { return t == DType::Float32 ? 4 : 8; }
inline const char* dtype_name(DType t) { return t == DType::Float32 ? "float32" : "float64"; }

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }

// Calls f.template operator()<T>() with T = float or double. Kernels are written once as templates
// and this is the only switch over dtypes:  dispatch(x.dtype(), [&]<class T>() { ... });
template <class F>
decltype(auto) dispatch(DType dt, F&& f) {
  switch (dt) {
    case DType::Float32: return f.template operator()<float>();
    case DType::Float64: return f.template operator()<double>();
  }
  throw Error("dispatch: unknown dtype");
}

}  // namespace sn
