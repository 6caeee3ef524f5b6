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

struct PaintOptions {
  Method method = kDefaultMethod;   // a fusion method, or Method::Optimize
  StylizeOptions stylize;           // alpha, colour, tiling (the fusion methods)
  FinishOptions finish;             // smoothing and colour match after decoding (the fusion methods)
  OptimizeOptions optimize;         // steps, the Laplacian weight, a time limit (Method::Optimize)
  // Method::Optimize with no coarse_sides of its own goes coarse to fine through
  // default_coarse_sides of the photo (128, 256, ... below its short side); false: full size only.
  bool coarse_to_fine = true;
  int64_t size = 0;                 // the photo's short side first (0: as is)
  int64_t style_size = 512;         // each style's short side (0: as is)
  OptimizeProgress optimize_progress;  // (step, steps, loss) of Method::Optimize
  // Where the fusion methods run: the photo and styles are copied there (the model must already be
  // there: StyleModel::to); the result comes back to host memory. Optimisation runs on the CPU.
  Device device;
};

// Throws sn::Error for a method `stylize` does not offer.
void check_paint_method(Method method);
// The styles as paint() uses them: each resized to options.style_size.
std::vector<StyleImage> prepare_styles(std::vector<StyleImage> styles, const PaintOptions& options);
// photo [1, 3, H, W] in [0, 1]; styles prepared; model may be null for Method::Optimize.
Tensor paint(const Vgg16& encoder, const StyleModel* model, const Tensor& photo, const std::vector<StyleImage>& styles,
             const PaintOptions& options);

}  // namespace sn
