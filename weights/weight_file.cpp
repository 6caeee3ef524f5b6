#include "weights/weight_file.h"

#include "tensor/error.h"
#include "weights/mapped_file.h"
#include "weights/pth.h"
#include "weights/sha256.h"

namespace sn {

WeightFile read_weight_file(const std::filesystem::path& path, const std::function<bool(const std::string&)>& select) {
  WeightFile out;
  const auto file = std::make_shared<const MappedFile>(path);
  if (looks_like_pth(file->bytes())) {
    PthContents pth = load_pth(file, PthOptions{select});
    out.tensors = std::move(pth.tensors);
    out.format = "PyTorch .pth (" + pth.container + " format)";
    return out;
  }
  // A safetensors file starts with its header's length, then the header's JSON object.
  if (file->size() < 9 || file->bytes()[8] != '{')
    throw Error(path.string() + ": neither a PyTorch .pth nor a safetensors weight file");
  // Decoded from the mapping, so the file is not first copied into a string, and the tensors not
  // selected are never read.
  SafetensorsContents st = load_safetensors(file, select);
  out.tensors = std::move(st.tensors);
  out.metadata = std::move(st.metadata);
  out.format = "safetensors";
  return out;
}

}  // namespace sn
