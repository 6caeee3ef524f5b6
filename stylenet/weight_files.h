// Weight files of any supported kind, told apart by their content (not their extension): PyTorch
// .pth (legacy or zip, weights/pth.h) and safetensors (weights/safetensors.h, our own format).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "weights/safetensors.h"
#include "weights/tensor_dict.h"

namespace sn {

struct WeightFile {
  TensorDict tensors;
  Metadata metadata;   // safetensors' __metadata__; empty for .pth
  std::string format;  // "PyTorch .pth (legacy format)", "PyTorch .pth (zip format)" or "safetensors"
};

// Reads `path`. `select` (optional) names the tensors wanted; .pth files then never read the
// others' data. Throws sn::Error naming the file for anything unreadable or malformed.
WeightFile read_weight_file(const std::filesystem::path& path,
                            const std::function<bool(const std::string&)>& select = {});

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
