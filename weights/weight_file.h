// Weight files of any supported kind, told apart by their content (not their extension): PyTorch
// .pth (legacy or zip, weights/pth.h) and safetensors (weights/safetensors.h, our own format).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "weights/safetensors.h"
#include "tensor/tensor_dict.h"

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

}  // namespace sn
