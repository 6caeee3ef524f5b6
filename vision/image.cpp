#include "vision/image.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

#include "autograd/ops.h"
#include "weights/atomic_file.h"

// stb is Debian's libstb-dev, header-only here: the implementation is compiled in this one file.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_HDR
#define STBI_NO_PIC
#define STBI_NO_PNM
#define STBI_NO_PSD
#define STBI_NO_GIF
#define STBI_MAX_DIMENSIONS (1 << 16)
#include <stb/stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb/stb_image_resize.h>

namespace sn {

namespace {
// [1, 3, H, W] float -> interleaved RGB float (what stb works on), and back.
std::vector<float> to_interleaved(const Tensor& image, int64_t& h, int64_t& w) {
  SN_CHECK((image.dim() == 4 && image.shape()[0] == 1 && image.shape()[1] == 3) ||
               (image.dim() == 3 && image.shape()[0] == 3),
           "image: expected a [1, 3, H, W] or [3, H, W] tensor, got ", shape_str(image.shape()));
  h = image.shape()[image.dim() - 2];
  w = image.shape()[image.dim() - 1];
  const std::vector<float> planar = image.to_vector<float>();
  std::vector<float> rgb(planar.size());
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t i = 0; i < h * w; ++i) rgb[i * 3 + c] = planar[c * h * w + i];
  return rgb;
}

Tensor from_interleaved(const float* rgb, int64_t h, int64_t w) {
  Tensor t = Tensor::empty({1, 3, h, w});
  float* p = t.data<float>();
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t i = 0; i < h * w; ++i) p[c * h * w + i] = rgb[i * 3 + c];
  return t;
}

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}
}  // namespace

Tensor load_image(const std::string& path, int64_t max_pixels) {
  std::error_code ec;
  SN_CHECK(std::filesystem::is_regular_file(path, ec), "cannot read image '", path, "': no such file");
  int w = 0, h = 0, channels = 0;
  SN_CHECK(stbi_info(path.c_str(), &w, &h, &channels), "cannot read image '", path,
           "': not a supported image (", stbi_failure_reason(), ")");
  SN_CHECK(static_cast<int64_t>(w) * h <= max_pixels, "cannot read image '", path, "': ", w, "x", h,
           " is larger than the limit of ", max_pixels, " pixels");
  std::unique_ptr<unsigned char, void (*)(void*)> data(stbi_load(path.c_str(), &w, &h, &channels, 3),
                                                        stbi_image_free);
  SN_CHECK(data != nullptr, "cannot read image '", path, "': ", stbi_failure_reason());
  Tensor t = Tensor::empty({1, 3, h, w});
  float* p = t.data<float>();
  const int64_t hw = static_cast<int64_t>(h) * w;
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t i = 0; i < hw; ++i) p[c * hw + i] = data.get()[i * 3 + c] / 255.0f;
  return t;
}

void save_image(const Tensor& image, const std::string& path, int jpeg_quality) {
  int64_t h = 0, w = 0;
  const std::vector<float> rgb = to_interleaved(image, h, w);
  std::vector<unsigned char> bytes(rgb.size());
  for (size_t i = 0; i < rgb.size(); ++i)
    bytes[i] = static_cast<unsigned char>(std::lround(std::clamp(rgb[i], 0.0f, 1.0f) * 255.0f));
  const std::string ext = lower_extension(path);
  const bool jpeg = ext == ".jpg" || ext == ".jpeg";
  SN_CHECK(jpeg || ext == ".png", "cannot write image '", path, "': unknown extension '", ext,
           "' (use .png, .jpg or .jpeg)");
  // stb encodes into memory through a callback; the bytes then go to disk atomically.
  std::string encoded;
  auto sink = [](void* ctx, void* data, int size) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size);
  };
  const int ok = jpeg ? stbi_write_jpg_to_func(sink, &encoded, (int)w, (int)h, 3, bytes.data(), jpeg_quality)
                      : stbi_write_png_to_func(sink, &encoded, (int)w, (int)h, 3, bytes.data(), (int)w * 3);
  SN_CHECK(ok, "cannot write image '", path, "': encoding failed");
  write_file_atomic(path, encoded);
}

Tensor resize_image(const Tensor& image, int64_t height, int64_t width) {
  SN_CHECK(height > 0 && width > 0, "resize_image: bad target size ", height, "x", width);
  int64_t h = 0, w = 0;
  const std::vector<float> rgb = to_interleaved(image, h, w);
  std::vector<float> out(height * width * 3);
  SN_CHECK(stbir_resize_float(rgb.data(), (int)w, (int)h, 0, out.data(), (int)width, (int)height, 0, 3),
           "resize_image: resampling failed");
  for (float& v : out) v = std::clamp(v, 0.0f, 1.0f);
  return from_interleaved(out.data(), height, width);
}

Tensor resize_short_side(const Tensor& image, int64_t short_side) {
  const int64_t h = image.shape()[image.dim() - 2], w = image.shape()[image.dim() - 1];
  const double s = static_cast<double>(short_side) / std::min(h, w);
  return resize_image(image, std::max<int64_t>(1, std::lround(h * s)), std::max<int64_t>(1, std::lround(w * s)));
}

Tensor image_grid(const std::vector<Tensor>& images, int64_t cols, int64_t gap) {
  SN_CHECK(!images.empty() && cols > 0, "image_grid: nothing to arrange");
  const int64_t h = images[0].shape()[2], w = images[0].shape()[3];
  const int64_t n = static_cast<int64_t>(images.size()), rows = (n + cols - 1) / cols;
  Tensor grid = Tensor::ones({1, 3, rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap});
  for (int64_t i = 0; i < n; ++i) {
    SN_CHECK(images[i].shape() == images[0].shape(), "image_grid: image ", i, " has shape ",
             shape_str(images[i].shape()), ", expected ", shape_str(images[0].shape()));
    const int64_t y = (i / cols) * (h + gap), x = (i % cols) * (w + gap);
    const Shape& st = grid.strides();
    grid.as_strided({1, 3, h, w}, st, y * st[2] + x * st[3]).copy_from(images[i]);
  }
  return grid;
}

Tensor luma(const Tensor& rgb) {
  SN_CHECK(rgb.defined() && rgb.dim() == 4 && rgb.size(1) == 3, "luma: expected RGB images [N, 3, H, W], got ",
           rgb.defined() ? shape_str(rgb.shape()) : "none");
  auto channel = [&](int64_t c) { return slice(rgb, 1, c, c + 1) * kLumaWeights[c]; };
  return channel(0) + channel(1) + channel(2);
}

}  // namespace sn
