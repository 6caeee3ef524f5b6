// What the fusions take from a style image, kept between photos and between runs.
//
// Encoding the style is most of a small stylize: a 64 x 64 photo with the default 512 px style
// took 0.72 s as a whole process, 0.26 s with a 64 px style (scripts/bench-cold.sh). What the
// fusions keep of a style (StyleStatistics at each tap: means, a k x k matrix, covariance roots; a
// few hundred KB) depends only on its pixels, the encoder, the model's learned fusion and which
// taps and methods ask. So stylize() looks them up here first: in memory (a folder of photos
// encodes each style once) and, given a folder, on disk, one safetensors file per style named by
// the SHA-256 of all of that, read back bit for bit (the same picture as without the cache).
//
// The disk is best effort: a folder that cannot be written, or a file that does not read back as
// what it should be (truncated, another version), is skipped and the style encoded again.
#pragma once
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "stylenet/fusion.h"

namespace sn {

class StyleCache {
 public:
  // `dir` empty: memory only. `model_identity` names the model's weights (its file's digest).
  StyleCache(std::filesystem::path dir, std::string model_identity);

  // The name of the statistics of `style` ([1, 3, h, w] on the CPU) as `request` describes them
  // (encoder, taps and methods: see stylize.cpp).
  std::string key(const Tensor& style, const std::string& request) const;
  // The statistics kept under `key`, if any.
  std::optional<std::vector<StyleStatistics>> find(const std::string& key) const;
  // Keeps them: in memory, and in the folder if there is one (at most kMaxFiles files, the oldest go).
  void keep(const std::string& key, const std::vector<StyleStatistics>& stats) const;

  static constexpr int kMaxFiles = 64;

 private:
  std::optional<std::vector<StyleStatistics>> read(const std::string& key) const;
  void write(const std::string& key, const std::vector<StyleStatistics>& stats) const;

  std::filesystem::path dir_;
  std::string model_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::vector<StyleStatistics>> memory_;
};

// $XDG_CACHE_HOME/stylenet/styles, else ~/.cache/stylenet/styles; empty when neither is set.
std::filesystem::path default_style_cache_dir();

}  // namespace sn
