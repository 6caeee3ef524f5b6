// NumPy .npy files (format versions 1.0 and 2.0) for float32 ('<f4') and float64 ('<f8') arrays
// in C order — how golden tensors written by PyTorch/NumPy scripts reach the parity tests.
// Anything else (other dtypes, big-endian, fortran_order=True, truncated data) is refused with an
// sn::Error that says what was found.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>

#include "tensor/tensor.h"

namespace sn {

std::string encode_npy(const Tensor& t);
Tensor decode_npy(std::string_view bytes, std::string_view source = "<memory>");

void save_npy(const std::filesystem::path& path, const Tensor& t);  // atomic
Tensor load_npy(const std::filesystem::path& path);

}  // namespace sn
