// Images in and out of the engine: files <-> float tensors [1, 3, H, W] with values in [0, 1].
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "tensor/tensor.h"

namespace sn {

// The pixel budget: images with more pixels are refused from their header, before any decoding
// (a decompression-bomb guard). 64 MP unless STYLENET_MAX_PIXELS says otherwise.
constexpr int64_t kMaxImagePixels = 64LL * 1000 * 1000;
int64_t max_image_pixels();

// Loads a JPEG/PNG/BMP/TGA file as RGB. Throws sn::Error with the path and the reason for a
// missing, unreadable, corrupt or oversized file.
Tensor load_image(const std::string& path, int64_t max_pixels = max_image_pixels());
// Width and height of an image file from its header alone, after the same checks load_image makes
// before decoding (exists, a supported format, within the pixel budget): what commands check
// before any model work, so a bad input fails at once.
std::pair<int64_t, int64_t> image_size(const std::string& path, int64_t max_pixels = max_image_pixels());
// The same for a file's bytes; `source` names it in error messages.
Tensor decode_image(std::string_view bytes, const std::string& source, int64_t max_pixels = max_image_pixels());

// Writes [1, 3, H, W] or [3, H, W] (values clamped to [0, 1]) as PNG or JPEG, chosen by the
// extension. The file appears atomically: a failure leaves no partial file and keeps any old one.
void save_image(const Tensor& image, const std::string& path, int jpeg_quality = 92);

// 8-bit RGB rows (row y at pixels + y * stride) <-> [1, 3, H, W] in [0, 1]: value / 255, and back
// rounded to nearest after clamping. What decoding and saving use, and the C API.
Tensor from_rgb8(const uint8_t* pixels, int64_t height, int64_t width, int64_t stride);
void to_rgb8(const Tensor& image, uint8_t* pixels, int64_t stride);

// The (height, width) resize_short_side makes of a picture of this size.
std::pair<int64_t, int64_t> short_side_size(int64_t height, int64_t width, int64_t short_side);
// Resizes so that the shorter side is `short_side` (keeping the aspect ratio), with a
// filtered (antialiased) resampler, suited to shrinking photos.
Tensor resize_short_side(const Tensor& image, int64_t short_side);
// Resizes to exactly (height, width) with the same resampler.
Tensor resize_image(const Tensor& image, int64_t height, int64_t width);

// The Rec. 601 luma weights of R, G and B: StyleNet's one definition of brightness (colour
// preservation, the Laplacian structure loss and edge SSIM all use it).
inline constexpr double kLumaWeights[3] = {0.299, 0.587, 0.114};
// Y = kLumaWeights . RGB of images [N, 3, H, W] -> [N, 1, H, W]; differentiable.
Tensor luma(const Tensor& rgb);

// Side-by-side grid of equally sized images ([1, 3, H, W] each), `cols` per row, with a gap.
Tensor image_grid(const std::vector<Tensor>& images, int64_t cols, int64_t gap = 4);

}  // namespace sn
