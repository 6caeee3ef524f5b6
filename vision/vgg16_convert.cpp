#include "vision/vgg16_convert.h"

#include "tensor/error.h"
#include "vision/vgg16.h"
#include "weights/safetensors.h"
#include "weights/sha256.h"
#include "weights/weight_file.h"

namespace sn {

ConversionSummary convert_to_safetensors(const std::filesystem::path& in, const std::filesystem::path& out) {
  ConversionSummary summary;
  WeightFile file = read_weight_file(in);
  summary.format = file.format;
  summary.source_sha256 = sha256_file_hex(in);

  Metadata meta{{"format", "pt"},  // the safetensors convention for PyTorch-layout tensors
                {"converter", "stylenet convert"},
                {"source_file", in.filename().string()},
                {"source_format", file.format},
                {"source_sha256", summary.source_sha256}};
  try {
    const VggParts parts = Vgg16::check_state_dict(file.tensors, in.string());
    summary.architecture = parts == VggParts::Full ? "vgg16" : "vgg16 (features only)";
    meta["architecture"] = "vgg16";
    meta["parts"] = parts == VggParts::Full ? "features,classifier" : "features";
    meta["preprocessing"] =
        "RGB in [0, 1], normalised with mean [0.485, 0.456, 0.406] and std [0.229, 0.224, 0.225]";
    meta["layout"] = "torchvision VGG16 state_dict keys; conv weights OIHW, linear weights [out, in]; NCHW";
    meta["features_sha256"] = Vgg16::features_sha256(file.tensors);
  } catch (const Error&) {
    summary.architecture = "unknown";
    meta["architecture"] = "unknown";
    meta["layout"] = "as in the source state_dict";
  }
  for (const auto& [key, t] : file.tensors) {
    ++summary.tensors;
    summary.parameters += t.numel();
    summary.bytes += t.numel() * static_cast<int64_t>(dtype_size(t.dtype()));
  }
  save_safetensors(out, file.tensors, meta);
  return summary;
}

}  // namespace sn
