#include "stylenet/style_cache.h"

#include <iterator>
#include <system_error>

#include "tensor/env.h"
#include "weights/atomic_file.h"
#include "weights/safetensors.h"
#include "weights/sha256.h"

namespace sn {

namespace fs = std::filesystem;

namespace {

// Bumped whenever what a file holds, or how the statistics are computed, changes.
constexpr const char* kFormat = "stylenet-style-statistics-1";

// The fields of StyleStatistics, by name (each may be undefined).
constexpr const char* kFields[] = {"mean", "std", "transform", "colouring"};
Tensor StyleStatistics::*const kMembers[] = {&StyleStatistics::mean, &StyleStatistics::std,
                                             &StyleStatistics::transform, &StyleStatistics::colouring};

// Whether statistics read back have the shapes the fusions make (a file that does not is treated as
// unreadable): mean and std [1, c, 1, 1], transform [1, k, k], colouring [1, c, c] in float64.
bool plausible(const StyleStatistics& s) {
  const Tensor& m = s.mean;
  if (!m.defined() || m.dim() != 4 || m.size(0) != 1 || m.size(2) != 1 || m.size(3) != 1) return false;
  const int64_t c = m.size(1);
  if (s.std.defined() && s.std.shape() != m.shape()) return false;
  if (s.transform.defined() && (s.transform.dim() != 3 || s.transform.size(0) != 1 ||
                                s.transform.size(1) != s.transform.size(2)))
    return false;
  return !s.colouring.defined() || (s.colouring.dtype() == DType::Float64 && s.colouring.shape() == Shape{1, c, c});
}

}  // namespace

StyleCache::StyleCache(fs::path dir, std::string model_identity)
    : dir_(std::move(dir)), model_(std::move(model_identity)) {}

std::string StyleCache::key(const Tensor& style, const std::string& request) const {
  const Tensor pixels = style.to(DType::Float32).contiguous();
  Sha256 h;
  for (const std::string& part : {std::string(kFormat), model_, request}) h.update(part.c_str(), part.size() + 1);
  for (int64_t d : pixels.shape()) h.update(&d, sizeof d);
  h.update(pixels.raw_data(), static_cast<size_t>(pixels.numel()) * sizeof(float));
  return h.finish_hex();
}

std::optional<std::vector<StyleStatistics>> StyleCache::find(const std::string& k) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (const auto it = memory_.find(k); it != memory_.end()) return it->second;
  }
  std::optional<std::vector<StyleStatistics>> stats = read(k);
  if (stats) {
    std::lock_guard<std::mutex> lock(mu_);
    memory_[k] = *stats;
  }
  return stats;
}

void StyleCache::keep(const std::string& k, const std::vector<StyleStatistics>& stats) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    memory_[k] = stats;
  }
  write(k, stats);
}

std::optional<std::vector<StyleStatistics>> StyleCache::read(const std::string& key) const {
  if (dir_.empty()) return std::nullopt;
  const fs::path path = dir_ / (key + ".safetensors");
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  try {
    const SafetensorsContents file = load_safetensors(path);
    const auto format = file.metadata.find("format"), count = file.metadata.find("count");
    if (format == file.metadata.end() || format->second != kFormat || count == file.metadata.end())
      return std::nullopt;
    std::vector<StyleStatistics> stats(std::stoul(count->second));
    for (size_t i = 0; i < stats.size(); ++i)
      for (size_t f = 0; f < std::size(kFields); ++f)
        if (const Tensor* t = file.tensors.find(std::to_string(i) + "." + kFields[f])) stats[i].*kMembers[f] = *t;
    for (const StyleStatistics& s : stats)
      if (!plausible(s)) return std::nullopt;
    fs::last_write_time(path, fs::file_time_type::clock::now(), ec);  // recently used: pruned last
    return stats;
  } catch (const std::exception&) {
    return std::nullopt;  // unreadable: encode again (and overwrite it)
  }
}

void StyleCache::write(const std::string& key, const std::vector<StyleStatistics>& stats) const {
  if (dir_.empty()) return;
  TensorDict tensors;
  for (size_t i = 0; i < stats.size(); ++i)
    for (size_t f = 0; f < std::size(kFields); ++f)
      if (const Tensor& t = stats[i].*kMembers[f]; t.defined()) tensors.insert(std::to_string(i) + "." + kFields[f], t.to(Device{}));
  try {
    fs::create_directories(dir_);
    save_safetensors(dir_ / (key + ".safetensors"), tensors, {{"format", kFormat}, {"count", std::to_string(stats.size())}});
    prune_oldest_files(dir_, ".safetensors", kMaxFiles);
  } catch (const std::exception&) {
    // A cache that cannot be written only costs the next run the encoding.
  }
}

fs::path default_style_cache_dir() {
  const fs::path dir = user_cache_dir();
  return dir.empty() ? dir : dir / "styles";
}

}  // namespace sn
