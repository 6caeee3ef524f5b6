#include "vision/data.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "tensor/error.h"

#ifndef STYLENET_DATA_DEFAULT
#define STYLENET_DATA_DEFAULT "../shared"
#endif

namespace sn {

namespace fs = std::filesystem;

std::string data_root() {
  const char* env = std::getenv("STYLENET_DATA");
  const std::string root = env && *env ? env : STYLENET_DATA_DEFAULT;
  std::error_code ec;
  SN_CHECK(fs::is_directory(fs::path(root) / "data", ec), "data folder not found: '", root,
           "/data' does not exist; set STYLENET_DATA to the folder that holds data/ (the shared/ checkout)");
  return root;
}

std::vector<std::string> list_images(const std::string& dir) {
  std::error_code ec;
  SN_CHECK(fs::is_directory(dir, ec), "image folder '", dir, "' does not exist");
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::string ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp") files.push_back(entry.path().string());
  }
  SN_CHECK(!files.empty(), "image folder '", dir, "' holds no .jpg/.jpeg/.png/.bmp files");
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> sample_images(const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& f : list_images(data_root() + "/data/samples"))
    if (std::filesystem::path(f).filename().string().rfind(prefix, 0) == 0) out.push_back(f);
  return out;
}

std::vector<std::string> holdout_split(const std::vector<std::string>& files, int64_t every, bool held_out) {
  std::vector<std::string> out;
  for (size_t i = 0; i < files.size(); ++i) {
    const bool is_held = every > 1 && i % static_cast<size_t>(every) == 0;
    if (is_held == held_out) out.push_back(files[i]);
  }
  return out;
}

std::vector<std::string> evenly_spaced(const std::vector<std::string>& files, int64_t max) {
  if (max <= 0 || static_cast<int64_t>(files.size()) <= max) return files;
  std::vector<std::string> out;
  for (int64_t i = 0; i < max; ++i) out.push_back(files[i * files.size() / max]);
  return out;
}

}  // namespace sn
