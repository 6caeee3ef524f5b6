#include "weights/checkpoint.h"

#include <charconv>

namespace sn {

namespace {

constexpr const char* kFormatKey = "format";
constexpr const char* kFormat = "stylenet-checkpoint-v1";
constexpr std::string_view kInfoPrefix = "info.";  // keeps free-form keys apart from ours

struct Section {
  const char* prefix;
  TensorDict Checkpoint::*dict;
};
constexpr Section kSections[] = {
    {"model.", &Checkpoint::model}, {"optim.", &Checkpoint::optimizer}, {"sched.", &Checkpoint::scheduler},
    {"extra.", &Checkpoint::extra}};

template <class Int>
Int parse_int(const Metadata& meta, const std::string& key, const std::string& source) {
  auto it = meta.find(key);
  SN_CHECK(it != meta.end(), "checkpoint '", source, "': metadata has no '", key, "'");
  Int v{};
  const char* end = it->second.data() + it->second.size();
  auto [p, ec] = std::from_chars(it->second.data(), end, v);
  SN_CHECK(ec == std::errc() && p == end, "checkpoint '", source, "': metadata '", key, "' = '", it->second,
           "' is not an integer");
  return v;
}

Checkpoint from_contents(SafetensorsContents file, const std::string& source) {
  auto format = file.metadata.find(kFormatKey);
  SN_CHECK(format != file.metadata.end() && format->second == kFormat, "checkpoint '", source,
           "': not a StyleNet checkpoint (metadata 'format' is '",
           format == file.metadata.end() ? std::string() : format->second, "', expected '", kFormat, "')");

  Checkpoint ckpt;
  for (const auto& [key, tensor] : file.tensors) {
    const Section* section = nullptr;
    for (const Section& s : kSections)
      if (key.starts_with(s.prefix)) section = &s;
    SN_CHECK(section != nullptr, "checkpoint '", source, "': unexpected tensor '", key,
             "' (keys start with model., optim., sched. or extra.)");
    (ckpt.*section->dict).insert(key.substr(std::string_view(section->prefix).size()), tensor);
  }
  ckpt.step = parse_int<int64_t>(file.metadata, "step", source);
  ckpt.seed = parse_int<uint64_t>(file.metadata, "seed", source);
  for (const auto& [k, v] : file.metadata)
    if (k.starts_with(kInfoPrefix)) ckpt.info[k.substr(kInfoPrefix.size())] = v;
  return ckpt;
}


}  // namespace

void save_checkpoint(const std::filesystem::path& path, const Checkpoint& ckpt) {
  TensorDict all;
  for (const Section& s : kSections)
    for (const auto& [k, v] : ckpt.*s.dict) all.insert(s.prefix + k, v);
  Metadata meta;
  for (const auto& [k, v] : ckpt.info) meta[std::string(kInfoPrefix).append(k)] = v;
  meta[kFormatKey] = kFormat;
  meta["step"] = std::to_string(ckpt.step);
  meta["seed"] = std::to_string(ckpt.seed);
  save_safetensors(path, all, meta, StoredDType::Native);
}

Checkpoint load_checkpoint(const std::filesystem::path& path) {
  return from_contents(load_safetensors(path), path.string());
}

Checkpoint decode_checkpoint(std::string_view bytes, const std::string& source) {
  return from_contents(decode_safetensors(bytes, source), source);
}

}  // namespace sn
