// `stylenet stylize`: paints a photo (or a folder of photos) in the style of one or more images.
#include <cstdio>
#include <filesystem>
#include <optional>

#include "apps/args.h"
#include "apps/command.h"
#include "apps/progress.h"
#include "stylenet/paint.h"
#include "vision/data.h"
#include "vision/image.h"
#include "weights/digest_cache.h"

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

// What the command line asks for, parsed and checked before any model work.
struct Request {
  std::vector<std::pair<std::string, fs::path>> jobs;  // photo -> output file
  std::vector<std::string> style_files;
  std::vector<double> style_weights;
  PaintOptions paint;
  bool optimize = false;  // no model needed
  bool quiet = false;
  fs::path style_cache;    // empty: styles' statistics kept in memory only
};

std::vector<double> parse_style_weights(const Args& args, size_t styles) {
  if (!args.has("style-weights")) return std::vector<double>(styles, 1.0);
  const std::vector<double> w = args.get_doubles("style-weights", 0.0, 1e30);
  if (w.size() != styles)
    throw UsageError("--style-weights has " + std::to_string(w.size()) + " values for " + std::to_string(styles) +
                     " styles");
  return w;
}

// One file -> --out is a file; a folder -> --out is a folder (created) of <name>.<format>.
std::vector<std::pair<std::string, fs::path>> plan_jobs(const std::string& content, const std::string& out,
                                                        const std::string& format) {
  std::vector<std::pair<std::string, fs::path>> jobs;
  if (!fs::is_directory(content)) {
    check_output_path(out, {".png", ".jpg", ".jpeg"});
    jobs.emplace_back(content, out);
    return jobs;
  }
  fs::create_directories(out);
  for (const auto& f : list_images(content)) jobs.emplace_back(f, fs::path(out) / (fs::path(f).stem().string() + "." + format));
  return jobs;
}

Request parse_request(const Args& args) {
  Request r;
  const std::string content = args.require("content"), out = args.require("out");
  // No --style: the model's built-in style (a collection model such as models/vangogh).
  if (args.has("style")) r.style_files = split_list(args.get("style", ""));
  if (args.has("style") && r.style_files.empty()) throw UsageError("--style names no image");
  r.style_weights = parse_style_weights(args, r.style_files.size());
  PaintOptions& p = r.paint;
  p.method = parse_stylize_method(args.get("method", method_name(p.method)));
  r.optimize = !method_info(p.method).fusion;
  p.stylize.alpha = args.get_double("alpha", 1.0, 0.0, 1.0);
  p.stylize.level_alpha = args.get_doubles("level-alpha", 0.0, 1.0);
  if (args.has("level-alpha") && !method_info(p.method).multi_level)
    throw UsageError("--level-alpha applies only to the multi-level methods");
  p.stylize.preserve_color = p.optimize.preserve_color = args.flag("preserve-color");
  p.finish = finish_options(args);
  if ((args.has("smooth") || args.flag("no-color-match")) && r.optimize)
    throw UsageError("--smooth and --no-color-match apply to the feed-forward methods, not optimisation");
  p.stylize.tile = args.get_int("tile", p.stylize.tile, 0, 8192);
  p.size = args.get_int("size", 0, 0, 16384);
  if (const std::string size = args.get("style-size", "auto"); size != "auto") {
    try {
      p.style_size = args.get_int("style-size", 0, 0, 4096);
    } catch (const UsageError&) {
      throw UsageError("--style-size expects auto or an integer from 0 to 4096, got '" + size + "'");
    }
  }
  p.optimize.steps = args.get_int("steps", p.optimize.steps, 1, 100000);
  p.optimize.loss.weights.laplacian = args.get_double("laplacian-weight", 0.0, 0.0, 1e6);
  p.optimize.max_seconds = args.get_double("max-time", 0.0, 0.0, 1e7);
  p.coarse_to_fine = !args.flag("full-scale-only");
  p.device = device_option(args);
  if (r.optimize && p.device != Device{}) throw UsageError("--device: --method optimize runs on the CPU only");
  for (const char* flag : {"laplacian-weight", "max-time", "full-scale-only"})
    if (args.has(flag) && !r.optimize) throw UsageError(std::string("--") + flag + " applies only to --method optimize");
  if (r.style_files.empty() && args.has("method") && p.method != Method::Learned)
    throw UsageError("--style is required (only a collection model with --method learned has a built-in style)");
  const std::string format = args.get("format", "png");
  if (format != "png" && format != "jpg") throw UsageError("--format must be png or jpg");
  r.quiet = args.flag("quiet");
  const std::string cache = args.get("style-cache", "");
  r.style_cache = cache == "off" ? fs::path() : cache.empty() ? default_style_cache_dir() : fs::path(cache);
  for (const auto& s : r.style_files) {
    if (!fs::is_regular_file(s)) throw Error("style image '" + s + "' does not exist");
    image_size(s);
  }
  // Every photo's header is checked before any model work: a bad one fails at once.
  if (!fs::exists(content)) throw Error("photo '" + content + "' does not exist");
  for (const std::string& photo : fs::is_directory(content) ? list_images(content) : std::vector<std::string>{content})
    image_size(photo);
  r.jobs = plan_jobs(content, out, format);
  return r;
}

fs::path model_path(const Args& args) {
  const fs::path path = args.has("model") ? resolve_model_path(args.get("model", "")) : default_model_path();
  if (!fs::exists(path)) throw Error("model '" + path.string() + "' does not exist (train one with 'stylenet train')");
  return path;
}

std::unique_ptr<StyleModel> load_model(const fs::path& path, bool needs_builtin_style) {
  auto model = std::make_unique<StyleModel>(StyleModel::load(path));
  if (needs_builtin_style && !model->collection)
    throw UsageError("--style is required: model '" + path.string() + "' has no built-in style");
  return model;
}

// What the style cache's entries depend on besides the style and the encoder: the model's weights
// and this program (a later build may compute the statistics differently), by their digests (each
// hashed once per version of its file). Empty where the program cannot be read (no /proc): then
// nothing is kept on disk.
std::string cache_identity(const fs::path& model) {
  try {
    return "model " + remembered_file_sha256(model) + "; program " + remembered_file_sha256("/proc/self/exe");
  } catch (const Error&) {
    return {};
  }
}

int run(const std::vector<std::string>& argv) {
  const Args args(argv,
                  {"content", "style", "style-weights", "out", "model", "method", "alpha", "level-alpha", "size", "style-size",
                   "tile", "threads", "steps", "laplacian-weight", "format", "max-time", "device", "smooth",
                   "style-cache"},
                  {"preserve-color", "quiet", "full-scale-only", "no-color-match"});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "'");
  apply_threads(args);
  const Request r = parse_request(args);
  const Vgg16 encoder = Vgg16::load();
  const fs::path path = r.optimize ? fs::path() : model_path(args);
  const std::unique_ptr<StyleModel> model = r.optimize ? nullptr : load_model(path, r.style_files.empty());
  if (model) model->to(r.paint.device);
  // No digests to take where nothing is kept on disk (--style-cache off, or optimisation).
  const std::string identity = r.optimize || r.style_cache.empty() ? std::string() : cache_identity(path);
  const StyleCache style_cache(identity.empty() ? fs::path() : r.style_cache, identity);
  PaintOptions paint_options = r.paint;
  paint_options.stylize.style_cache = &style_cache;
  std::vector<StyleImage> loaded_styles, styles;
  for (size_t i = 0; i < r.style_files.size(); ++i) loaded_styles.push_back({load_image(r.style_files[i]), r.style_weights[i]});
  std::optional<int64_t> styles_side;  // the side `styles` were resized to
  ProgressLine photos("stylize", static_cast<int64_t>(r.jobs.size()), r.quiet || r.jobs.size() < 2);
  for (size_t i = 0; i < r.jobs.size(); ++i) {
    const auto& [in, out] = r.jobs[i];
    PaintOptions options = paint_options;
    // Coarse to fine runs --steps at each scale (0 total until the photo's size is known).
    ProgressLine steps("optimize " + fs::path(in).filename().string(), 0, r.quiet);
    options.optimize_progress = [&](int64_t step, int64_t total, double loss) {
      steps.set_total(total);
      steps.update(step, "loss " + std::to_string(loss));
    };
    const Tensor photo = load_image(in);
    if (const int64_t side = style_side(options, photo); side != styles_side) {  // photos of one size share them
      styles = prepare_styles(loaded_styles, options, photo);
      styles_side = side;
    }
    const Tensor result = paint(encoder, model.get(), photo, styles, options);
    save_image(result, out.string());
    photos.update(static_cast<int64_t>(i + 1), out.filename().string());
    if (!r.quiet && !photos.shown())
      std::printf("wrote %s (%lldx%lld)\n", out.string().c_str(), static_cast<long long>(result.size(3)),
                  static_cast<long long>(result.size(2)));
  }
  return 0;
}

}  // namespace

extern const Command kStylizeCommand = {
    "stylize", "paint a photo in the style of an artwork",
    std::string(
        "usage: stylenet stylize --content C --style S --out O [options]\n"
        "       stylenet stylize --model vangogh --content C --out O   (a collection model's own style)\n"
        "  --content C          image file, or a folder of images (then --out is a folder)\n"
        "  --style S[,S2...]    one or more style images\n"
        "  --style-weights w,.. relative weight of each style (default equal)\n"
        "  --out O              PNG or JPEG file (or folder, with --format png|jpg)\n"
        "  --model M            style model file, or the name of one in models/ (default: $STYLENET_MODEL\n"
        "                       or models/default.safetensors)\n"
        "  --method M           how to paint (default " + std::string(method_name(kDefaultMethod)) +
        "; learned for a built-in style):\n") +
    method_help(offered_by_stylize, 19) +
    std::string(
        "  --alpha A            style strength in [0, 1] (default 1)\n"
        "  --level-alpha A,B    for the multi-level methods: the strength at each shallower level,\n"
        "                       deepest first (relu2_1, relu1_1 for the default model; default: --alpha)\n"
        "  --preserve-color     keep the photo's colours, transfer only the texture/brightness\n") +
    finish_help() +
    std::string(
        "  --size N             resize the photo so its short side is N pixels first (default: as is)\n"
        "  --style-size N       short side of the style images (default auto: twice the photo's,\n"
        "                       128 to 512 px; 0 = as is)\n"
        "  --tile N             tile side for large images (default 512; 0 = whole image at once)\n"
        "  --style-cache DIR    where what the model takes from each style image is kept, so a\n"
        "                       style is encoded once, not on every run (default\n"
        "                       $XDG_CACHE_HOME/stylenet/styles or ~/.cache/stylenet/styles; 'off':\n"
        "                       not kept between runs)\n"
        "  --steps N            optimisation steps for --method optimize at each scale (default 300);\n"
        "                       it runs coarse to fine, at short sides 128, 256, ... below the photo's,\n"
        "                       each scale from the last one's result, with a progress bar\n"
        "  --max-time S         for --method optimize: stop after S seconds (shared among the scales)\n"
        "  --full-scale-only    for --method optimize: no coarse scales (Gatys as published)\n"
        "  --laplacian-weight X for --method optimize: also keep the photo's edges (Lapstyle's term\n"
        "                       on 2x2-pooled luma; default 0, 5 keeps them well)\n"
        "  --threads N          CPU threads (default: STYLENET_THREADS or all cores)\n"
        "  --device D           cpu (default), cuda or cuda:N: where the fusion methods run (a build\n"
        "                       with STYLENET_CUDA and an NVIDIA GPU)\n"
        "The encoder is VGG16 from $STYLENET_WEIGHTS or the fetch-weights cache, else the stand-in;\n"
        "the model must have been trained with the same encoder.\n"),
    run};

}  // namespace sn::cli
