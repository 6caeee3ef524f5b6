// How a photo of any size goes through the encoder and decoder in tiles with bounded memory.
//
// The photo is padded (reflection) by a border, so the encoder's zero padding falls outside the
// picture, then up to a multiple of the tap's downsampling. Tiles of about `tile` pixels of the
// photo split it evenly (no slivers that cost a whole margin for a few pixels); each tile reads
// its region grown by a margin that covers the receptive fields of encoder and decoder, so the
// convolutions see exactly what they would on the whole image. Everything global (the fusion's
// statistics) is accumulated over all tiles' own regions first (stylenet/fusion.h): tiled and
// untiled results agree to float rounding, with no seams.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "stylenet/fusion.h"
#include "tensor/tensor.h"

namespace sn {

class Vgg16;

// Input pixels each tile carries beyond its own region: the receptive-field radius of the encoder
// up to `tap` plus the decoder back from it, rounded up to a multiple of 8.
int64_t tile_margin(const std::string& tap);

// A tile of the padded photo: the part it produces, [y0, y1) x [x0, x1), and the part it reads,
// the same grown by the margin and clipped to the image. All multiples of the downsampling, so
// pooling windows line up with the whole image's.
struct Tile {
  int64_t y0, y1, x0, x1;
  int64_t iy0, iy1, ix0, ix1;
};

class TileGrid {
 public:
  // photo [1, 3, H, W]; tile 0 = one tile; border: reflection padding on every side (clipped to
  // what the photo allows).
  TileGrid(const Tensor& photo, int64_t tile, int64_t border, int64_t downsampling, int64_t margin);

  const Tensor& padded() const { return padded_; }
  const std::vector<Tile>& tiles() const { return tiles_; }
  // The input region of tile i, cut from the padded photo.
  Tensor input(size_t i) const;
  // The window of tile i's features (or of any map at the tap's resolution) that is its own region.
  Window own_features(size_t i) const;
  // Writes tile i's own region of `decoded` (the decoder's output for its input region) into `out`
  // ([1, 3, padded H, W]).
  void paste(size_t i, const Tensor& decoded, Tensor& out) const;
  // The photo's part of the padded image `out`.
  Tensor unpad(const Tensor& out) const;

 private:
  Tensor padded_;
  std::vector<Tile> tiles_;
  int64_t ds_, border_, H_, W_;
};

// The encoder's features of each tile, kept after their first encoding while they fit in
// `budget_bytes` (the fusion's passes and the decoder each need them); the rest are encoded
// again on every request, which bounds memory for any photo size at the price of time.
class TileFeatures {
 public:
  TileFeatures(const Vgg16& encoder, const TileGrid& grid, std::string tap, int64_t budget_bytes);
  Tensor get(size_t i);
  // The last request of tile i: its memory is given back.
  Tensor take(size_t i);

 private:
  const Vgg16& encoder_;
  const TileGrid& grid_;
  std::string tap_;
  int64_t budget_, used_ = 0;
  std::vector<Tensor> cache_;
};

}  // namespace sn
