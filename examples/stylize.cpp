// Stylize a photo from C++ with libstylenet's C++ API (the same call `stylenet stylize` makes).
//   stylize_cpp PHOTO STYLE OUT.png [SIZE]
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "stylenet/paint.h"
#include "vision/image.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: stylize_cpp PHOTO STYLE OUT.png [SIZE]\n");
    return 2;
  }
  try {
    const sn::Vgg16 encoder = sn::Vgg16::load();                                     // found weights, else the stand-in
    const sn::StyleModel model = sn::StyleModel::load(sn::resolve_model_path("default"));
    sn::PaintOptions options;                                                         // `stylenet stylize`'s defaults
    if (argc > 4) options.size = std::atoi(argv[4]);
    const sn::Tensor photo = sn::load_image(argv[1]);
    const auto styles = sn::prepare_styles({{sn::load_image(argv[2]), 1.0}}, options, photo);
    const sn::Tensor out = sn::paint(encoder, &model, photo, styles, options);
    sn::save_image(out, argv[3]);
    std::printf("wrote %s (%lldx%lld)\n", argv[3], static_cast<long long>(out.size(3)), static_cast<long long>(out.size(2)));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stylize_cpp: %s\n", e.what());
    return 1;
  }
}
