// PyTorch weight files (torch.save of a state_dict) read without Python, in both containers:
//
//   legacy (before PyTorch 1.6, and what torchvision's official VGG16 file uses): five pickles
//     back to back — magic number, protocol version, system info, the state_dict (storages as
//     persistent ids), the list of storage keys — then each storage's raw bytes after an 8-byte
//     element count, in that list's order.
//   zip (PyTorch 1.6+): <name>/data.pkl holds the state_dict pickle and <name>/data/<key> each
//     storage's raw bytes, as stored (uncompressed) zip entries.
//
// The pickle runs through a restricted unpickler (weights/pickle.h) that knows OrderedDict,
// torch._utils._rebuild_tensor(_v2), _rebuild_parameter and the storage types, and nothing else.
// Every size, offset and stride is checked against the file before anything is allocated.
// Tensors that share a storage in the file share one in memory, with their offsets and strides.
// Half and bfloat16 storages load as float32; integer and bool tensors are refused.
#pragma once
#include <filesystem>
#include <memory>
#include <functional>
#include <string>
#include <string_view>

#include "tensor/tensor_dict.h"

namespace sn {

struct PthOptions {
  // Which state_dict entries to build (all when empty). The others are validated but their data
  // is never read, so a features-only load of VGG16 never touches the classifier's 470 MB.
  std::function<bool(const std::string& key)> select;
};

struct PthContents {
  TensorDict tensors;     // in the state_dict's order
  std::string container;  // "legacy" or "zip"
};

// Maps the file (weights/mapped_file.h); its pages are handed back as storages are copied out,
// so the peak resident memory is about one copy of the selected tensors.
PthContents load_pth(const std::filesystem::path& path, const PthOptions& options = {});
class MappedFile;
// The tensors may share the mapping (weights/mapped_file.h): it lives as long as they do.
PthContents load_pth(const std::shared_ptr<const MappedFile>& file, const PthOptions& options = {});
// The same from bytes in memory; `source` names them in error messages.
PthContents decode_pth(std::string_view bytes, std::string_view source = "<memory>",
                       const PthOptions& options = {});

// True when the bytes start like either container (a zip, or the legacy magic number).
bool looks_like_pth(std::string_view bytes);

}  // namespace sn
