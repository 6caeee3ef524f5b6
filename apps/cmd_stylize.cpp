// `stylenet stylize`: paints a photo (or a folder of photos) in the style of one or more images.
#include <cstdio>
#include <filesystem>

#include "apps/args.h"
#include "apps/command.h"
#include "vision/data.h"
#include "vision/image.h"
#include "stylenet/optimize.h"
#include "stylenet/stylize.h"

namespace sn::cli {

namespace {

namespace fs = std::filesystem;

bool offered_by_stylize(const MethodInfo& m) { return m.stylize; }

Method parse_stylize_method(const std::string& name) {
  try {
    const Method m = parse_method(name);
    if (offered_by_stylize(method_info(m))) return m;
  } catch (const Error&) {
  }
  throw UsageError("--method must be one of " + method_list(offered_by_stylize) + ", not '" + name + "'");
}

int run(const std::vector<std::string>& argv) {
  const Args args(argv,
                  {"content", "style", "style-weights", "out", "model", "method", "alpha", "size", "style-size",
                   "tile", "threads", "steps", "laplacian-weight", "format"},
                  {"preserve-color", "quiet"});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "'");
  apply_threads(args);
  const std::string content_arg = args.require("content");
  // No --style: the model's built-in style (a collection model such as models/vangogh), checked
  // once the model is loaded.
  const std::vector<std::string> style_files = args.has("style") ? split_list(args.get("style", "")) : std::vector<std::string>{};
  const std::string out_arg = args.require("out");
  if (args.has("style") && style_files.empty()) throw UsageError("--style names no image");
  std::vector<double> weights(style_files.size(), 1.0);
  if (args.has("style-weights")) {
    const auto w = split_list(args.get("style-weights", ""));
    if (w.size() != style_files.size())
      throw UsageError("--style-weights has " + std::to_string(w.size()) + " values for " +
                       std::to_string(style_files.size()) + " styles");
    for (size_t i = 0; i < w.size(); ++i) {
      char* end = nullptr;
      weights[i] = std::strtod(w[i].c_str(), &end);
      if (*end || !(weights[i] >= 0)) throw UsageError("--style-weights: '" + w[i] + "' is not a weight >= 0");
    }
  }
  const Method method = parse_stylize_method(args.get("method", method_name(Method::Learned)));
  const bool optimize = !method_info(method).fusion;
  StylizeOptions opt;
  if (!optimize) opt.method = *method_info(method).fusion;
  opt.alpha = args.get_double("alpha", 1.0, 0.0, 1.0);
  opt.preserve_color = args.flag("preserve-color");
  opt.tile = args.get_int("tile", 512, 0, 8192);
  const int64_t size = args.get_int("size", 0, 0, 16384);
  const int64_t style_size = args.get_int("style-size", 512, 0, 4096);
  const int64_t opt_steps = args.get_int("steps", 300, 1, 100000);
  const double opt_laplacian = args.get_double("laplacian-weight", 0.0, 0.0, 1e6);
  if (args.has("laplacian-weight") && !optimize) throw UsageError("--laplacian-weight applies only to --method optimize");
  const std::string format = args.get("format", "png");
  if (format != "png" && format != "jpg") throw UsageError("--format must be png or jpg");

  // Inputs: one file -> --out is a file; a folder -> --out is a folder (created) of <name>.<format>.
  const bool batch = fs::is_directory(content_arg);
  std::vector<std::pair<std::string, fs::path>> jobs;
  if (batch) {
    fs::create_directories(out_arg);
    for (const auto& f : list_images(content_arg))
      jobs.emplace_back(f, fs::path(out_arg) / (fs::path(f).stem().string() + "." + format));
  } else {
    check_output_path(out_arg, {".png", ".jpg", ".jpeg"});
    jobs.emplace_back(content_arg, out_arg);
  }
  for (const auto& s : style_files)
    if (!fs::is_regular_file(s)) throw Error("style image '" + s + "' does not exist");

  if (style_files.empty() && (optimize || opt.method != FusionMethod::Learned))
    throw UsageError("--style is required (only a collection model with --method learned has a built-in style)");
  const Vgg16 encoder = Vgg16::load();
  std::unique_ptr<StyleModel> model;
  if (!optimize) {
    const fs::path model_path = args.has("model") ? resolve_model_path(args.get("model", "")) : default_model_path();
    if (!fs::exists(model_path))
      throw Error("model '" + model_path.string() + "' does not exist (train one with 'stylenet train')");
    model = std::make_unique<StyleModel>(StyleModel::load(model_path));
    if (style_files.empty() && !model->collection)
      throw UsageError("--style is required: model '" + model_path.string() + "' has no built-in style");
  }
  std::vector<StyleImage> styles;
  for (size_t i = 0; i < style_files.size(); ++i) {
    Tensor s = load_image(style_files[i]);
    if (style_size > 0) s = resize_short_side(s, style_size);
    styles.push_back({s, weights[i]});
  }
  for (const auto& [in, out] : jobs) {
    Tensor content = load_image(in);
    if (size > 0) content = resize_short_side(content, size);
    Tensor result;
    if (optimize) {
      OptimizeOptions oo;
      oo.steps = opt_steps;
      oo.loss.weights.laplacian = opt_laplacian;
      oo.preserve_color = opt.preserve_color;
      result = optimize_image(encoder, content, styles, oo);
    } else {
      result = stylize(encoder, *model, content, styles, opt);
    }
    save_image(result, out.string());
    if (!args.flag("quiet")) std::printf("wrote %s (%lldx%lld)\n", out.string().c_str(),
                                         static_cast<long long>(result.size(3)), static_cast<long long>(result.size(2)));
  }
  return 0;
}

}  // namespace

extern const Command kStylizeCommand = {
    "stylize", "paint a photo in the style of an artwork",
    [] {
      return std::string(
          "usage: stylenet stylize --content C --style S --out O [options]\n"
          "       stylenet stylize --model vangogh --content C --out O   (a collection model's own style)\n"
          "  --content C          image file, or a folder of images (then --out is a folder)\n"
          "  --style S[,S2...]    one or more style images\n"
          "  --style-weights w,.. relative weight of each style (default equal)\n"
          "  --out O              PNG or JPEG file (or folder, with --format png|jpg)\n"
          "  --model M            style model file, or the name of one in models/ (default: $STYLENET_MODEL\n"
          "                       or models/default.safetensors)\n"
          "  --method M           how to paint (default learned):\n") +
          method_help(offered_by_stylize, 19) +
      std::string(
          "  --alpha A            style strength in [0, 1] (default 1)\n"
          "  --preserve-color     keep the photo's colours, transfer only the texture/brightness\n"
          "  --size N             resize the photo so its short side is N pixels first (default: as is)\n"
          "  --style-size N       short side of the style images (default 512; 0 = as is)\n"
          "  --tile N             tile side for large images (default 512; 0 = whole image at once)\n"
          "  --steps N            optimisation steps for --method optimize (default 300)\n"
          "  --laplacian-weight X for --method optimize: also keep the photo's edges (Lapstyle's term\n"
          "                       on 2x2-pooled luma; default 0, 5 keeps them well)\n"
          "  --threads N          CPU threads (default: STYLENET_THREADS or all cores)\n"
          "The encoder is VGG16 from $STYLENET_WEIGHTS or the fetch-weights cache, else the stand-in;\n"
          "the model must have been trained with the same encoder.\n");
    },
    run};

}  // namespace sn::cli
