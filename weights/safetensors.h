// The safetensors weight format (https://github.com/huggingface/safetensors):
//
//   [8 bytes: header length N, little-endian u64][N bytes: JSON header][raw little-endian data]
//   header = {"__metadata__": {str: str}, "<name>": {"dtype": "F32", "shape": [..],
//             "data_offsets": [begin, end]}, ...}   (offsets relative to the data section)
//
// Reading treats the file as hostile: every inconsistency (lengths, offsets, dtypes, shapes,
// JSON) is refused with one sn::Error naming the source and the offending entry, before any
// tensor is built. Tensors stored as F16/BF16 load as float32; F32/F64 load as themselves.
#pragma once
#include <filesystem>
#include <memory>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "weights/atomic_file.h"
#include "tensor/tensor_dict.h"

namespace sn {

using Metadata = std::map<std::string, std::string>;

// How float tensors are stored. Native keeps float32 as F32 and float64 as F64 (exact); F16 and
// BF16 halve the file for deployment (float64 values are rounded to float32 first).
enum class StoredDType { Native, F16, BF16 };

struct SafetensorsContents {
  TensorDict tensors;  // in the order of their data in the file
  Metadata metadata;
};

// Upper bound on the JSON header, as the reference implementation: a larger one is an attack.
constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

void write_safetensors(ByteSink& sink, const TensorDict& tensors, const Metadata& metadata = {},
                       StoredDType stored = StoredDType::Native);
std::string encode_safetensors(const TensorDict& tensors, const Metadata& metadata = {},
                               StoredDType stored = StoredDType::Native);
// Which tensors to build (all when empty); the others are validated but their data never read.
using TensorSelect = std::function<bool(const std::string& name)>;

// `source` names the bytes in error messages (usually the file path).
SafetensorsContents decode_safetensors(std::string_view bytes, std::string_view source = "<memory>",
                                       const TensorSelect& select = {});

// Writes atomically (see atomic_file.h): a failed save never damages an existing file.
void save_safetensors(const std::filesystem::path& path, const TensorDict& tensors,
                      const Metadata& metadata = {}, StoredDType stored = StoredDType::Native);
// Maps the file (weights/mapped_file.h) instead of reading it into memory, and hands each
// tensor's file pages back once copied, so a load holds about one copy of the selected tensors.
SafetensorsContents load_safetensors(const std::filesystem::path& path, const TensorSelect& select = {});
class MappedFile;
// The tensors may share the mapping (weights/mapped_file.h): it lives as long as they do.
SafetensorsContents load_safetensors(const std::shared_ptr<const MappedFile>& file, const TensorSelect& select = {});

}  // namespace sn
