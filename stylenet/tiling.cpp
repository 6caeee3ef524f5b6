#include "stylenet/tiling.h"

#include <algorithm>
#include <utility>

#include "autograd/nn_ops.h"
#include "tensor/error.h"
#include "vision/vgg16.h"

namespace sn {

namespace {

// Splits [0, n) into `parts` pieces of multiples of ds, as even as possible (the last one takes
// what is left of a non-multiple n).
std::vector<std::pair<int64_t, int64_t>> split_axis(int64_t n, int64_t parts, int64_t ds) {
  const int64_t units = (n + ds - 1) / ds;
  parts = std::clamp<int64_t>(parts, 1, units);
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t i = 0; i < parts; ++i) out.emplace_back(units * i / parts * ds, std::min(n, units * (i + 1) / parts * ds));
  return out;
}

Tensor crop(const Tensor& x, int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
  return slice(slice(x, 2, y0, y1), 3, x0, x1).contiguous();
}

}  // namespace

int64_t tile_margin(const std::string& tap) {
  // 1 + 1 input pixels for relu1_1, 5 + 4 for relu2_1, 12 + 10 for relu3_1, 30 + 26 for relu4_1.
  if (tap == "relu1_1") return 8;
  if (tap == "relu2_1") return 16;
  return tap == "relu3_1" ? 32 : 64;
}

TileGrid::TileGrid(const Tensor& photo, int64_t tile, int64_t border, int64_t ds, int64_t margin)
    : ds_(ds), H_(photo.size(2)), W_(photo.size(3)) {
  border_ = std::min({border, H_ - 1, W_ - 1}) / ds * ds;
  const int64_t Hp = (H_ + 2 * border_ + ds - 1) / ds * ds, Wp = (W_ + 2 * border_ + ds - 1) / ds * ds;
  padded_ = (Hp == H_ && Wp == W_)
                ? photo.contiguous()
                : pad2d(photo, {border_, Wp - W_ - border_, border_, Hp - H_ - border_}, PadMode::Reflect);
  // Counted on the photo, not the padded image: a photo of the tile size is one tile.
  const int64_t ny = tile <= 0 ? 1 : (H_ + tile - 1) / tile, nx = tile <= 0 ? 1 : (W_ + tile - 1) / tile;
  for (const auto& [y0, y1] : split_axis(Hp, ny, ds))
    for (const auto& [x0, x1] : split_axis(Wp, nx, ds))
      tiles_.push_back({y0, y1, x0, x1, std::max<int64_t>(0, y0 - margin), std::min(Hp, y1 + margin),
                        std::max<int64_t>(0, x0 - margin), std::min(Wp, x1 + margin)});
}

Tensor TileGrid::input(size_t i) const {
  const Tile& t = tiles_[i];
  return crop(padded_, t.iy0, t.iy1, t.ix0, t.ix1);
}

Window TileGrid::own_features(size_t i) const {
  const Tile& t = tiles_[i];
  return {(t.y0 - t.iy0) / ds_, (t.y1 - t.iy0) / ds_, (t.x0 - t.ix0) / ds_, (t.x1 - t.ix0) / ds_};
}

void TileGrid::paste(size_t i, const Tensor& decoded, Tensor& out) const {
  const Tile& t = tiles_[i];
  Tensor dst = slice(slice(out, 2, t.y0, t.y1), 3, t.x0, t.x1);
  dst.copy_from(crop(decoded, t.y0 - t.iy0, t.y1 - t.iy0, t.x0 - t.ix0, t.x1 - t.ix0));
}

Tensor TileGrid::unpad(const Tensor& out) const { return crop(out, border_, border_ + H_, border_, border_ + W_); }

TileFeatures::TileFeatures(const Vgg16& encoder, const TileGrid& grid, std::string tap, int64_t budget_bytes)
    : encoder_(encoder), grid_(grid), tap_(std::move(tap)), budget_(budget_bytes), cache_(grid.tiles().size()) {}

Tensor TileFeatures::get(size_t i) {
  if (cache_[i].defined()) return cache_[i];
  Tensor f = encoder_.features(grid_.input(i), {tap_}).at(tap_);
  const int64_t bytes = f.numel() * static_cast<int64_t>(sizeof(float));
  if (cache_.size() == 1 || used_ + bytes <= budget_) cache_[i] = f, used_ += bytes;
  return f;
}

Tensor TileFeatures::take(size_t i) {
  Tensor f = get(i);
  cache_[i] = Tensor();
  return f;
}

}  // namespace sn
