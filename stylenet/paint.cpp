#include "stylenet/paint.h"

#include <algorithm>

#include "tensor/error.h"
#include "vision/image.h"

namespace sn {

void check_paint_method(Method method) {
  const MethodInfo& info = method_info(method);
  SN_CHECK(info.stylize, "method '", info.name, "' is an evaluation of `stylenet eval`, not a way to paint");
}

int64_t style_side(const PaintOptions& options, const Tensor& photo) {
  if (options.style_size != kAutoStyleSize) return options.style_size;
  const int64_t photo_side = options.size > 0 ? options.size : std::min(photo.size(2), photo.size(3));
  return std::clamp(2 * photo_side, kAutoStyleMin, kAutoStyleMax);
}

std::vector<StyleImage> prepare_styles(std::vector<StyleImage> styles, const PaintOptions& options, const Tensor& photo) {
  SN_CHECK(options.style_size >= 0 || options.style_size == kAutoStyleSize, "paint: style_size ", options.style_size,
           " is negative");
  if (const int64_t side = style_side(options, photo); side > 0)
    for (StyleImage& s : styles) s.image = resize_short_side(s.image, side);
  return styles;
}

Tensor paint(const Vgg16& encoder, const StyleModel* model, const Tensor& photo, const std::vector<StyleImage>& styles,
             const PaintOptions& options) {
  check_paint_method(options.method);
  const Tensor content = options.size > 0 ? resize_short_side(photo, options.size) : photo;
  // No style image: the model's built-in style, which only the learned fusion has.
  const Method method = styles.empty() && options.method == kDefaultMethod ? Method::Learned : options.method;
  const std::optional<FusionMethod> fusion = method_info(method).fusion;
  if (!fusion) {
    OptimizeOptions oo = options.optimize;
    if (options.coarse_to_fine && oo.coarse_sides.empty())
      oo.coarse_sides = default_coarse_sides(std::min(content.size(2), content.size(3)));
    return optimize_image(encoder, content, styles, oo, options.optimize_progress);
  }
  SN_CHECK(model, "paint: the ", method_name(method), " method needs a style model");
  StylizeOptions so = options.stylize;
  so.method = *fusion;
  so.multi_level = method_info(method).multi_level;
  Tensor stylized;
  if (options.device == Device{}) {
    stylized = stylize(encoder, *model, content, styles, so);
  } else {
    std::vector<StyleImage> on_device = styles;
    for (StyleImage& s : on_device) s.image = s.image.to(options.device);
    stylized = stylize(encoder, *model, content.to(options.device), on_device, so);
  }
  // Kept colours are the photo's: no style colours to match then.
  FinishOptions finishing = options.finish;
  if (so.preserve_color) finishing.match_colors = false;
  return finish(stylized, content, styles, finishing);
}

}  // namespace sn
