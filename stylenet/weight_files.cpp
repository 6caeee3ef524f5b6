#include "stylenet/weight_files.h"

#include "stylenet/vgg16.h"
#include "tensor/error.h"
#include "weights/mapped_file.h"
#include "weights/pth.h"
#include "weights/sha256.h"

namespace sn {

WeightFile read_weight_file(const std::filesystem::path& path, const std::function<bool(const std::string&)>& select) {
  WeightFile out;
  const MappedFile file(path);
  if (looks_like_pth(file.bytes())) {
    PthContents pth = load_pth(file, PthOptions{select});
    out.tensors = std::move(pth.tensors);
    out.format = "PyTorch .pth (" + pth.container + " format)";
    return out;
  }
  // A safetensors file starts with its header's length, then the header's JSON object.
  if (file.size() < 9 || file.bytes()[8] != '{')
    throw Error(path.string() + ": neither a PyTorch .pth nor a safetensors weight file");
  // Decoded from the mapping, so the file is not first copied into a string, and the tensors not
  // selected are never read.
  SafetensorsContents st = load_safetensors(file, select);
  out.tensors = std::move(st.tensors);
  out.metadata = std::move(st.metadata);
  out.format = "safetensors";
  return out;
}

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
