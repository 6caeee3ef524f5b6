#include "vision/data.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "vision/image.h"

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

CropSampler::CropSampler(const std::vector<std::string>& files, int64_t crop, uint64_t seed)
    : crop_(crop), gen_(seed) {
  SN_CHECK(crop > 0, "CropSampler: crop size must be positive");
  for (const std::string& f : files) {
    Tensor t = load_image(f);
    if (std::min(t.shape()[2], t.shape()[3]) < crop) t = resize_short_side(t, crop);
    Image im{t.shape()[2], t.shape()[3], {}};
    const float* p = t.data<float>();
    im.rgb.resize(3 * im.h * im.w);
    for (size_t i = 0; i < im.rgb.size(); ++i) im.rgb[i] = static_cast<uint8_t>(std::lround(p[i] * 255.0f));
    images_.push_back(std::move(im));
  }
  SN_CHECK(!images_.empty(), "CropSampler: no images");
}

Tensor CropSampler::batch(int64_t n) {
  Tensor out = Tensor::empty({n, 3, crop_, crop_});
  float* o = out.data<float>();
  for (int64_t b = 0; b < n; ++b) {
    const Image& im = images_[gen_.below(images_.size())];
    const int64_t y0 = static_cast<int64_t>(gen_.below(im.h - crop_ + 1));
    const int64_t x0 = static_cast<int64_t>(gen_.below(im.w - crop_ + 1));
    const bool flip = gen_.below(2) == 1;
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < crop_; ++y)
        for (int64_t x = 0; x < crop_; ++x) {
          const int64_t sx = flip ? x0 + crop_ - 1 - x : x0 + x;
          o[((b * 3 + c) * crop_ + y) * crop_ + x] = im.rgb[(c * im.h + y0 + y) * im.w + sx] / 255.0f;
        }
  }
  return out;
}

}  // namespace sn
