#include "vision/image.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "autograd/ops.h"
#include "tensor/env.h"
#include "weights/atomic_file.h"
#include "vision/stb_limits.h"
#include "weights/mapped_file.h"

// stb is Debian's libstb-dev; its implementation is compiled in stb_impl.cpp.
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
#include <stb/stb_image_write.h>

namespace sn {

namespace {
// Interleaved RGB float (what stb works on) lives in flat tensors, not std::vectors: they come
// from the tensor allocator, which neither zero-fills them nor maps fresh pages for every image
// (a training step resamples four crops; zero-filled vectors were a third of a decoder-stage
// run's page faults).
Tensor float_scratch(int64_t n) { return Tensor::empty({n}); }

// [1, 3, H, W] float -> interleaved RGB float, and back.
Tensor to_interleaved(const Tensor& image, int64_t& h, int64_t& w) {
  SN_CHECK((image.dim() == 4 && image.shape()[0] == 1 && image.shape()[1] == 3) ||
               (image.dim() == 3 && image.shape()[0] == 3),
           "image: expected a [1, 3, H, W] or [3, H, W] tensor, got ", shape_str(image.shape()));
  h = image.shape()[image.dim() - 2];
  w = image.shape()[image.dim() - 1];
  // A dense float32 image is read in place: a planar copy first (to_vector) doubled the memory a
  // big style image touches before resizing, and its page faults were a quarter of a 64 px stylize's.
  std::vector<float> copy;
  const float* planar = nullptr;
  if (image.dtype() == DType::Float32 && image.is_contiguous() && image.device() == Device{}) {
    planar = image.data<float>();
  } else {
    copy = image.to_vector<float>();
    planar = copy.data();
  }
  Tensor out = float_scratch(3 * h * w);
  float* rgb = out.data<float>();
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t i = 0; i < h * w; ++i) rgb[i * 3 + c] = planar[c * h * w + i];
  return out;
}

Tensor from_interleaved(const float* rgb, int64_t h, int64_t w) {
  Tensor t = Tensor::empty({1, 3, h, w});
  float* p = t.data<float>();
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t i = 0; i < h * w; ++i) p[c * h * w + i] = rgb[i * 3 + c];
  return t;
}

uint32_t big_endian(std::string_view b, size_t at, int n) {
  uint32_t v = 0;
  for (int i = 0; i < n; ++i) v = v << 8 | static_cast<unsigned char>(b[at + i]);
  return v;
}

uint32_t little_endian(std::string_view b, size_t at, int n) {
  uint32_t v = 0;
  for (int i = n; i-- > 0;) v = v << 8 | static_cast<unsigned char>(b[at + i]);
  return v;
}

// JPEG: the size is in the first start-of-frame segment (SOF0..SOF15 but DHT, JPG and DAC).
std::optional<std::pair<int64_t, int64_t>> jpeg_size(std::string_view b) {
  size_t at = 2;
  while (at + 9 <= b.size() && static_cast<unsigned char>(b[at]) == 0xFF) {
    const unsigned marker = static_cast<unsigned char>(b[at + 1]);
    if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC)
      return std::pair<int64_t, int64_t>{big_endian(b, at + 7, 2), big_endian(b, at + 5, 2)};
    at += 2 + big_endian(b, at + 2, 2);
  }
  return std::nullopt;
}

// stb_image 2.27 (Debian 12's) writes past its Huffman size table when a JPEG's DHT segment
// declares more than 256 codes (fuzz_image found it; upstream fixed it in 2.28). Every DHT table
// of the file, before and between scans, is checked here first.
void check_jpeg_huffman_tables(std::string_view b, const std::string& source) {
  // What stb takes for a JPEG: 0xFF, any number of 0xFF fill bytes, then SOI (0xD8).
  size_t at = 0;
  while (at < b.size() && static_cast<unsigned char>(b[at]) == 0xFF) ++at;
  if (at == 0 || at >= b.size() || static_cast<unsigned char>(b[at]) != 0xD8) return;
  ++at;
  while (at + 4 <= b.size()) {
    if (static_cast<unsigned char>(b[at]) != 0xFF) {  // entropy-coded data: find the next marker
      ++at;
      continue;
    }
    const unsigned marker = static_cast<unsigned char>(b[at + 1]);
    if (marker == 0x00 || marker == 0xFF || (marker >= 0xD0 && marker <= 0xD9)) {  // stuffing, fill, RST, SOI, EOI
      at += marker == 0xFF ? 1 : 2;
      continue;
    }
    const size_t length = big_endian(b, at + 2, 2), end = std::min(b.size(), at + 2 + length);
    if (marker == 0xC4) {
      // A table cut short by the end of the file counts too: stb reads zeros past the end.
      for (size_t t = at + 4; t < end;) {
        size_t codes = 0;
        for (size_t i = t + 1; i < std::min(t + 17, b.size()); ++i) codes += static_cast<unsigned char>(b[i]);
        SN_CHECK(codes <= 256, "cannot read image '", source, "': corrupt JPEG (a Huffman table declares ", codes,
                 " codes, at most 256 exist)");
        t += 17 + codes;
      }
    }
    at += 2 + std::max<size_t>(length, 2);
  }
}

// Width and height as the header states them, for the formats whose header says so plainly
// (PNG, JPEG, BMP); checked against the pixel budget before stb allocates anything.
std::optional<std::pair<int64_t, int64_t>> header_size(std::string_view b) {
  if (b.size() >= 24 && b.substr(0, 8) == "\x89PNG\r\n\x1a\n" && b.substr(12, 4) == "IHDR")
    return std::pair<int64_t, int64_t>{big_endian(b, 16, 4), big_endian(b, 20, 4)};
  if (b.size() >= 4 && static_cast<unsigned char>(b[0]) == 0xFF && static_cast<unsigned char>(b[1]) == 0xD8)
    return jpeg_size(b);
  if (b.size() >= 26 && b.substr(0, 2) == "BM") {
    const auto height = static_cast<int32_t>(little_endian(b, 22, 4));  // negative: top-down rows
    return std::pair<int64_t, int64_t>{static_cast<int32_t>(little_endian(b, 18, 4)),
                                       height < 0 ? -static_cast<int64_t>(height) : height};
  }
  return std::nullopt;
}

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}
}  // namespace

int64_t max_image_pixels() {
  return env_integer("STYLENET_MAX_PIXELS", kMaxImagePixels, 1, std::numeric_limits<int64_t>::max(),
                     "a positive pixel count");
}

namespace {

// The checks made before decoding: size, the header's own statement against the budget, what stb
// makes of the header. Returns stb's width and height.
std::pair<int, int> checked_header(std::string_view bytes, const std::string& source, int64_t max_pixels) {
  SN_CHECK(bytes.size() <= static_cast<size_t>(std::numeric_limits<int>::max()), "cannot read image '", source,
           "': the file is larger than 2 GiB");
  check_jpeg_huffman_tables(bytes, source);
  if (const auto size = header_size(bytes)) {
    int64_t pixels = 0;
    SN_CHECK(!__builtin_mul_overflow(size->first, size->second, &pixels) && pixels <= max_pixels, "cannot read image '",
             source, "': ", size->first, "x", size->second, " is larger than the limit of ", max_pixels,
             " pixels (STYLENET_MAX_PIXELS)");
  }
  int w = 0, h = 0, channels = 0;
  SN_CHECK(stbi_info_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()), &w,
                                 &h, &channels),
           "cannot read image '", source, "': not a supported image (", stbi_failure_reason(),
           "; PNG, JPEG, BMP and TGA are)");
  SN_CHECK(static_cast<int64_t>(w) * h <= max_pixels, "cannot read image '", source, "': ", w, "x", h,
           " is larger than the limit of ", max_pixels, " pixels (STYLENET_MAX_PIXELS)");
  return {w, h};
}

}  // namespace

std::pair<int64_t, int64_t> image_size(const std::string& path, int64_t max_pixels) {
  std::error_code ec;
  SN_CHECK(std::filesystem::is_regular_file(path, ec), "cannot read image '", path, "': no such file");
  const MappedFile file(path);
  const auto [w, h] = checked_header(file.bytes(), path, max_pixels);
  return {w, h};
}

Tensor decode_image(std::string_view bytes, const std::string& source, int64_t max_pixels) {
  auto [w, h] = checked_header(bytes, source, max_pixels);
  int channels = 0;
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = static_cast<int>(bytes.size());
  // What decoding needs at most: 16-bit RGBA pixels and PNG's filter byte per row, plus stb's
  // fixed-size tables. Anything larger is corrupt data asking for more.
  const detail::StbAllocationLimit limit(static_cast<size_t>(w) * h * 8 + (static_cast<size_t>(w) + h) * 64 + (1 << 20));
  std::unique_ptr<unsigned char, void (*)(void*)> rgb(stbi_load_from_memory(data, len, &w, &h, &channels, 3),
                                                       stbi_image_free);
  const std::string why = rgb ? "" : stbi_failure_reason();
  SN_CHECK(rgb != nullptr, "cannot read image '", source, "': ",
           why == "outofmem" ? "corrupt image data (it asks for more memory than a picture of its size needs)" : why);
  return from_rgb8(rgb.get(), h, w, static_cast<int64_t>(w) * 3);
}

Tensor from_rgb8(const uint8_t* pixels, int64_t height, int64_t width, int64_t stride) {
  Tensor t = Tensor::empty({1, 3, height, width});
  float* p = t.data<float>();
  const int64_t hw = height * width;
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x)
      for (int64_t c = 0; c < 3; ++c) p[c * hw + y * width + x] = pixels[y * stride + x * 3 + c] / 255.0f;
  return t;
}

void to_rgb8(const Tensor& image, uint8_t* pixels, int64_t stride) {
  int64_t h = 0, w = 0;
  const Tensor interleaved = to_interleaved(image, h, w);
  const float* rgb = interleaved.data<float>();
  for (int64_t y = 0; y < h; ++y)
    for (int64_t i = 0; i < w * 3; ++i)
      pixels[y * stride + i] = static_cast<uint8_t>(std::lround(std::clamp(rgb[y * w * 3 + i], 0.0f, 1.0f) * 255.0f));
}

Tensor load_image(const std::string& path, int64_t max_pixels) {
  std::error_code ec;
  SN_CHECK(std::filesystem::is_regular_file(path, ec), "cannot read image '", path, "': no such file");
  const MappedFile file(path);
  return decode_image(file.bytes(), path, max_pixels);
}

void save_image(const Tensor& image_any, const std::string& path, int jpeg_quality) {
  const Tensor image = image_any.to(Device{});  // pixels are encoded from host memory
  const int64_t h = image.size(image.dim() - 2), w = image.size(image.dim() - 1);
  std::vector<unsigned char> bytes(static_cast<size_t>(h * w * 3));
  to_rgb8(image, bytes.data(), w * 3);
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
  const Tensor rgb = to_interleaved(image, h, w);
  const Tensor resized = float_scratch(height * width * 3);
  float* out = resized.data<float>();
  SN_CHECK(stbir_resize_float(rgb.data<float>(), (int)w, (int)h, 0, out, (int)width, (int)height, 0, 3),
           "resize_image: resampling failed");
  for (int64_t i = 0; i < height * width * 3; ++i) out[i] = std::clamp(out[i], 0.0f, 1.0f);
  return from_interleaved(out, height, width);
}

std::pair<int64_t, int64_t> short_side_size(int64_t height, int64_t width, int64_t short_side) {
  const double s = static_cast<double>(short_side) / std::min(height, width);
  return {std::max<int64_t>(1, std::lround(height * s)), std::max<int64_t>(1, std::lround(width * s))};
}

Tensor resize_short_side(const Tensor& image, int64_t short_side) {
  const auto [h, w] = short_side_size(image.size(image.dim() - 2), image.size(image.dim() - 1), short_side);
  return resize_image(image, h, w);
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
