// What `stylenet stylize` does with one photo, for every front end (the command, the C API):
// resize the photo and the styles as asked, then paint with the chosen method (a fusion through the
// model, or optimisation of the image itself). One definition, so every front end gives the same
// picture for the same options.
#pragma once
#include <functional>
#include <vector>

#include "stylenet/finish.h"
#include "stylenet/methods.h"
#include "stylenet/optimize.h"
#include "stylenet/stylize.h"

namespace sn {

// PaintOptions::style_size's default: twice the photo's short side (after PaintOptions::size),
// at least 128 and at most 512 px. A style's statistics are taken at the scale the picture is
// painted at: a 512 px style painted onto a 64 px photo gives the same picture as a 128 px one
// (docs/style-size.md) and costs 16 times its encoding, most of a first run on a small photo.
constexpr int64_t kAutoStyleSize = -1;
constexpr int64_t kAutoStyleMin = 128, kAutoStyleMax = 512;

struct PaintOptions {
  Method method = kDefaultMethod;   // a fusion method, or Method::Optimize
  StylizeOptions stylize;           // alpha, colour, tiling (the fusion methods)
  FinishOptions finish;             // smoothing and colour match after decoding (the fusion methods)
  OptimizeOptions optimize;         // steps, the Laplacian weight, a time limit (Method::Optimize)
  // Method::Optimize with no coarse_sides of its own goes coarse to fine through
  // default_coarse_sides of the photo (128, 256, ... below its short side); false: full size only.
  bool coarse_to_fine = true;
  int64_t size = 0;                 // the photo's short side first (0: as is)
  int64_t style_size = kAutoStyleSize;  // each style's short side (0: as is; see style_side)
  OptimizeProgress optimize_progress;  // (step, steps, loss) of Method::Optimize
  // Where the fusion methods run: the photo and styles are copied there (the model must already be
  // there: StyleModel::to); the result comes back to host memory. Optimisation runs on the CPU.
  Device device;
};

// Throws sn::Error for a method `stylize` does not offer.
void check_paint_method(Method method);
// The short side the styles are resized to for a photo [1, 3, H, W] (before options.size): 0 for
// as they are.
int64_t style_side(const PaintOptions& options, const Tensor& photo);
// The styles as paint() uses them for this photo: each resized to style_side(options, photo).
std::vector<StyleImage> prepare_styles(std::vector<StyleImage> styles, const PaintOptions& options, const Tensor& photo);
// photo [1, 3, H, W] in [0, 1]; styles prepared; model may be null for Method::Optimize.
Tensor paint(const Vgg16& encoder, const StyleModel* model, const Tensor& photo, const std::vector<StyleImage>& styles,
             const PaintOptions& options);

}  // namespace sn
