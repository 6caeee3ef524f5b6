// `stylenet convert`: any supported weight file to safetensors, recognising torchvision's VGG16
// and recording what it is (architecture, preprocessing, layout, source digest) in the metadata.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

namespace sn {

struct ConversionSummary {
  std::string format;        // of the input
  std::string architecture;  // "vgg16", "vgg16 (features only)" or "unknown"
  std::string source_sha256;
  int64_t tensors = 0, parameters = 0, bytes = 0;  // bytes of tensor data written
};

// Converts a .pth or safetensors file to safetensors at `out` (written atomically: on any error
// nothing is left at `out`). The metadata records the architecture, the input preprocessing (for
// VGG16), the layout, and the source file's name and SHA-256.
ConversionSummary convert_to_safetensors(const std::filesystem::path& in, const std::filesystem::path& out);

}  // namespace sn
