#include "stylenet/finish.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "autograd/grad_mode.h"
#include "autograd/nn_ops.h"
#include "stylenet/fusion.h"
#include "tensor/error.h"
#include "vision/guided_filter.h"

namespace sn {

Tensor match_colors(const Tensor& image, const std::vector<StyleImage>& styles) {
  NoGradGuard no_grad;
  SN_CHECK(!styles.empty(), "match_colors: no style image");
  // Pixels are 3-channel features: WCT whitens the picture's colours and colours them with each
  // style's covariance, blending the styles by weight, as it does with VGG features.
  const std::unique_ptr<Fusion> colours = Fusion::make(FusionMethod::WCT);
  colours->set_content(image);
  for (const StyleImage& s : styles) colours->add_style(s.image.to(image.device()), s.weight);
  return clamp(colours->apply(image), 0.0, 1.0);
}

Tensor finish(const Tensor& stylized, const Tensor& photo, const std::vector<StyleImage>& styles,
              const FinishOptions& options) {
  NoGradGuard no_grad;
  SN_CHECK(stylized.shape() == photo.shape(), "finish: picture and photo differ in shape, ",
           shape_str(stylized.shape()), " vs ", shape_str(photo.shape()));
  SN_CHECK(options.smooth >= 0 && options.smooth_eps > 0, "finish: smoothing must be >= 0 with eps > 0");
  Tensor result = stylized.to(Device{});
  if (options.smooth > 0) {
    const double side = static_cast<double>(std::min(photo.size(2), photo.size(3)));
    const auto radius = std::max<int64_t>(1, std::llround(options.smooth * side / 256));
    result = clamp(guided_filter(photo.to(Device{}), result, radius, options.smooth_eps), 0.0, 1.0);
  }
  if (options.match_colors && !styles.empty()) result = match_colors(result, styles);
  return result;
}

}  // namespace sn
