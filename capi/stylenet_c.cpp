// The C interface (capi/stylenet.h) over the C++ library: handles own the C++ objects, every entry
// point turns exceptions into a status and this thread's last error, and the painting itself is
// stylenet/paint.h, the same code `stylenet stylize` runs.
#include "capi/stylenet.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <string>

#include "stylenet/paint.h"
#include "tensor/error.h"
#include "tensor/threads.h"
#include "vision/image.h"

struct sn_encoder {
  sn::Vgg16 vgg;
};

struct sn_model {
  sn::StyleModel model;
};

namespace {

thread_local std::string g_last_error;

// A caller's mistake (null pointer, bad size, option out of range): SN_INVALID_ARGUMENT.
struct InvalidArgument : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void require(bool ok, const std::string& what) {
  if (!ok) throw InvalidArgument(what);
}

// Runs `body`, mapping what it throws to a status and the thread's last error.
template <class Body>
sn_status guarded(const char* call, Body&& body) {
  try {
    body();
    return SN_OK;
  } catch (const InvalidArgument& e) {
    g_last_error = std::string(call) + ": " + e.what();
    return SN_INVALID_ARGUMENT;
  } catch (const std::bad_alloc&) {
    g_last_error = std::string(call) + ": out of memory";
    return SN_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    g_last_error = std::string(call) + ": " + e.what();
    return SN_FAILED;
  } catch (...) {
    g_last_error = std::string(call) + ": unknown error";
    return SN_FAILED;
  }
}

void check_image(const sn_image* image, const char* name) {
  require(image != nullptr, std::string(name) + " is NULL");
  require(image->pixels != nullptr, std::string(name) + "->pixels is NULL");
  require(image->width > 0 && image->height > 0, std::string(name) + " has a size of 0");
  require(image->stride >= 3 * static_cast<int64_t>(image->width), std::string(name) + "->stride is less than 3 * width");
  require(static_cast<int64_t>(image->width) * image->height <= sn::max_image_pixels(),
          std::string(name) + " is larger than the pixel budget (STYLENET_MAX_PIXELS)");
}

sn::Tensor to_tensor(const sn_image& image) {
  return sn::from_rgb8(image.pixels, image.height, image.width, image.stride);
}

// A new picture of `t`, its pixels from malloc (sn_image_free frees them).
sn_image new_image(const sn::Tensor& t) {
  sn_image img{nullptr, static_cast<int32_t>(t.size(3)), static_cast<int32_t>(t.size(2)), 0};
  img.stride = 3 * img.width;
  img.pixels = static_cast<uint8_t*>(std::malloc(static_cast<size_t>(img.stride) * img.height));
  if (!img.pixels) throw std::bad_alloc();
  sn::to_rgb8(t, img.pixels, img.stride);
  return img;
}

// sn_method's values, in order.
constexpr sn::Method kMethods[] = {sn::Method::Learned,  sn::Method::AdaIN,      sn::Method::WCT,
                                   sn::Method::Optimize, sn::Method::MultiLevel, sn::Method::LearnedMultiLevel};

sn_method method_code(sn::Method m) {
  for (int i = 0; i <= SN_LEARNED_MULTILEVEL; ++i)
    if (kMethods[i] == m) return static_cast<sn_method>(i);
  return SN_LEARNED;
}

sn::PaintOptions paint_options(const sn_options* o) {
  require(o != nullptr, "options is NULL");
  require(o->method >= SN_LEARNED && o->method <= SN_LEARNED_MULTILEVEL, "options->method is not an sn_method");
  require(o->alpha >= 0 && o->alpha <= 1, "options->alpha must be in [0, 1]");
  require(o->size >= 0 && (o->style_size >= 0 || o->style_size == SN_STYLE_SIZE_AUTO) && o->tile >= 0 && o->steps >= 1,
          "options has a negative size (style_size: or SN_STYLE_SIZE_AUTO) or no steps");
  require(o->level_count >= 0 && o->level_count <= SN_MAX_LEVEL_ALPHA, "options->level_count must be in [0, SN_MAX_LEVEL_ALPHA]");
  require(o->smooth >= 0 && o->smooth <= 64, "options->smooth must be in [0, 64]");
  sn::PaintOptions p;
  p.method = kMethods[o->method];
  p.stylize.alpha = o->alpha;
  p.stylize.preserve_color = p.optimize.preserve_color = o->preserve_color != 0;
  p.stylize.tile = o->tile;
  p.optimize.steps = o->steps;
  p.size = o->size;
  p.style_size = o->style_size;
  p.stylize.level_alpha.assign(o->level_alpha, o->level_alpha + o->level_count);
  p.finish.smooth = o->smooth;
  p.finish.match_colors = o->match_colors != 0;
  return p;
}

sn::Tensor paint(const sn_encoder* encoder, const sn_model* model, const sn_image* photo, const sn_image* style,
                 const sn_options* options) {
  require(encoder != nullptr, "encoder is NULL");
  const sn::PaintOptions p = paint_options(options);
  require(model != nullptr || p.method == sn::Method::Optimize, "model is NULL");
  check_image(photo, "photo");
  std::vector<sn::StyleImage> styles;
  if (style) {
    check_image(style, "style");
    styles.push_back({to_tensor(*style), 1.0});
  } else {
    require(model && model->model.collection && (p.method == sn::Method::Learned || p.method == sn::kDefaultMethod),
            "style is NULL and the model has no built-in style (or the method is not SN_LEARNED)");
  }
  const sn::Tensor picture = to_tensor(*photo);
  return sn::paint(encoder->vgg, model ? &model->model : nullptr, picture, sn::prepare_styles(styles, p, picture), p);
}

}  // namespace

extern "C" {

const char* sn_version(void) { return STYLENET_VERSION; }
int sn_version_major(void) { return STYLENET_VERSION_MAJOR; }
int sn_version_minor(void) { return STYLENET_VERSION_MINOR; }
int sn_version_patch(void) { return STYLENET_VERSION_PATCH; }
const char* sn_last_error(void) { return g_last_error.c_str(); }

sn_status sn_image_load(const char* path, sn_image* out) {
  return guarded("sn_image_load", [&] {
    require(path != nullptr && out != nullptr, "path or out is NULL");
    *out = new_image(sn::load_image(path));
  });
}

sn_status sn_image_save(const char* path, const sn_image* image) {
  return guarded("sn_image_save", [&] {
    require(path != nullptr, "path is NULL");
    check_image(image, "image");
    sn::save_image(to_tensor(*image), path);
  });
}

void sn_image_free(sn_image* image) {
  if (!image) return;
  std::free(image->pixels);
  *image = sn_image{nullptr, 0, 0, 0};
}

sn_status sn_encoder_load(const char* weights, sn_encoder** out) {
  return guarded("sn_encoder_load", [&] {
    require(out != nullptr, "out is NULL");
    *out = nullptr;
    *out = new sn_encoder{sn::Vgg16::load(weights ? weights : "")};
  });
}

int sn_encoder_is_standin(const sn_encoder* encoder) { return encoder && encoder->vgg.identity().standin ? 1 : 0; }
void sn_encoder_free(sn_encoder* encoder) { delete encoder; }

sn_status sn_model_load(const char* path_or_name, sn_model** out) {
  return guarded("sn_model_load", [&] {
    require(out != nullptr && path_or_name != nullptr, "path_or_name or out is NULL");
    *out = nullptr;
    const std::filesystem::path path = sn::resolve_model_path(path_or_name);
    if (!std::filesystem::exists(path)) throw sn::Error("model '" + path.string() + "' does not exist");
    *out = new sn_model{sn::StyleModel::load(path)};
  });
}

int sn_model_has_builtin_style(const sn_model* model) { return model && model->model.collection ? 1 : 0; }
void sn_model_free(sn_model* model) { delete model; }

void sn_options_init(sn_options* options) {
  if (!options) return;
  const sn::PaintOptions p;
  *options = sn_options{method_code(p.method), p.stylize.alpha, 0, static_cast<int32_t>(p.size), static_cast<int32_t>(p.style_size),
                        static_cast<int32_t>(p.stylize.tile), static_cast<int32_t>(p.optimize.steps), 0, {},
                        p.finish.smooth, p.finish.match_colors ? 1 : 0};
}

sn_status sn_output_size(int32_t width, int32_t height, const sn_options* options, int32_t* out_width,
                         int32_t* out_height) {
  return guarded("sn_output_size", [&] {
    require(width > 0 && height > 0, "the photo has a size of 0");
    require(out_width != nullptr && out_height != nullptr, "out_width or out_height is NULL");
    const sn::PaintOptions p = paint_options(options);
    const auto [h, w] = p.size > 0 ? sn::short_side_size(height, width, p.size) : std::pair<int64_t, int64_t>{height, width};
    *out_width = static_cast<int32_t>(w);
    *out_height = static_cast<int32_t>(h);
  });
}

sn_status sn_stylize(const sn_encoder* encoder, const sn_model* model, const sn_image* photo, const sn_image* style,
                     const sn_options* options, sn_image* out) {
  return guarded("sn_stylize", [&] {
    require(out != nullptr, "out is NULL");
    *out = new_image(paint(encoder, model, photo, style, options));
  });
}

sn_status sn_stylize_into(const sn_encoder* encoder, const sn_model* model, const sn_image* photo,
                          const sn_image* style, const sn_options* options, sn_image* out) {
  return guarded("sn_stylize_into", [&] {
    check_image(out, "out");
    int32_t w = 0, h = 0;
    require(photo != nullptr && sn_output_size(photo->width, photo->height, options, &w, &h) == SN_OK,
            "photo or options: " + g_last_error);
    require(out->width == w && out->height == h, "out is " + std::to_string(out->width) + "x" +
                                                     std::to_string(out->height) + ", the result " + std::to_string(w) +
                                                     "x" + std::to_string(h) + " (sn_output_size)");
    sn::to_rgb8(paint(encoder, model, photo, style, options), out->pixels, out->stride);
  });
}

sn_status sn_set_threads(int32_t threads) {
  return guarded("sn_set_threads", [&] {
    require(threads >= 1 && threads <= 4096, "threads must be from 1 to 4096");
    sn::set_num_threads(threads);
  });
}

}  // extern "C"
