// `stylenet eval`: scores the model against AdaIN, WCT and optimisation on content x style pairs.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "apps/args.h"
#include "apps/command.h"
#include "apps/progress.h"
#include "training/evaluate.h"
#include "vision/data.h"
#include "vision/image.h"
#include "weights/atomic_file.h"

namespace sn::cli {

namespace {

namespace fs = std::filesystem;

// A folder's images, or the comma-separated files given; empty -> the shared samples with `prefix`.
std::vector<std::string> image_list(const std::string& arg, const std::string& prefix) {
  if (arg.empty()) return sample_images(prefix);
  if (fs::is_directory(arg)) return list_images(arg);
  return split_list(arg);
}

std::string method_names(const std::vector<Method>& methods) {
  std::string text;
  for (Method m : methods) text += (text.empty() ? "" : ", ") + std::string(method_name(m));
  return text;
}

std::vector<Method> parse_methods(const std::vector<std::string>& names) {
  if (names.empty()) throw UsageError("--methods names no method");
  std::vector<Method> methods;
  for (const std::string& name : names) {
    try {
      methods.push_back(parse_method(name));
    } catch (const Error&) {
      throw UsageError("--methods: '" + name + "' is not one of " + method_list());
    }
  }
  return methods;
}

int run(const std::vector<std::string>& argv) {
  const Args args(argv, {"contents", "styles", "model", "methods", "size", "steps", "table", "sheet", "sheet-method",
                         "alpha", "level-alpha", "smooth",
                         "threads", "laplacian-weight", "refine-steps", "heldout", "sheets", "max-time", "device"},
                  {"quiet", "coarse-to-fine", "no-color-match"});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "'");
  apply_threads(args);
  EvalOptions opt;
  if (args.has("methods")) opt.methods = parse_methods(split_list(args.get("methods", "")));
  opt.size = args.get_int("size", opt.size, 32, 2048);
  opt.optimize_steps = args.get_int("steps", opt.optimize_steps, 1, 100000);
  opt.refine_steps = args.get_int("refine-steps", opt.refine_steps, 1, 100000);
  opt.optimize_coarse_to_fine = args.flag("coarse-to-fine");
  opt.optimize_max_seconds = args.get_double("max-time", 0.0, 0.0, 1e7);
  opt.alpha = args.get_double("alpha", opt.alpha, 0.0, 1.0);
  opt.level_alpha = args.get_doubles("level-alpha", 0.0, 1.0);
  opt.finish = finish_options(args);
  opt.device = device_option(args);
  opt.loss.weights.laplacian = args.get_double("laplacian-weight", 0.0, 0.0, 1e6);
  const std::string table_path = args.get("table", "");
  const std::string sheet_path = args.get("sheet", "");
  const Method sheet_method =
      args.has("sheet-method") ? parse_methods({args.get("sheet-method", "")}).front() : opt.methods.front();
  if (!table_path.empty()) check_output_path(table_path, {".md", ".txt"});
  if (!sheet_path.empty()) check_output_path(sheet_path, {".png", ".jpg", ".jpeg"});
  const std::string sheets_dir = args.get("sheets", "");
  if (args.has("sheets") && sheets_dir.empty()) throw UsageError("--sheets names no folder");
  if (std::find(opt.methods.begin(), opt.methods.end(), sheet_method) == opt.methods.end())
    throw UsageError("--sheet-method '" + args.get("sheet-method", "") + "' is not among --methods");

  std::vector<std::string> content_files, style_files;
  if (args.has("heldout")) {
    if (args.has("contents") || args.has("styles")) throw UsageError("--heldout chooses the images: no --contents or --styles");
    HeldOutSet set = held_out_set(args.get_int("heldout", 10, 1, 1000));
    content_files = std::move(set.contents), style_files = std::move(set.styles);
  } else {
    content_files = image_list(args.get("contents", ""), "content_");
    style_files = image_list(args.get("styles", ""), "style_");
  }
  std::vector<Tensor> contents, styles;
  for (const auto& f : content_files) contents.push_back(load_image(f));
  for (const auto& f : style_files) styles.push_back(load_image(f));
  if (contents.empty() || styles.empty()) throw Error("no content or no style images to evaluate");

  const Vgg16 encoder = Vgg16::load();
  const fs::path model_path = args.has("model") ? fs::path(args.get("model", "")) : default_model_path();
  if (!fs::exists(model_path)) throw Error("model '" + model_path.string() + "' does not exist");
  StyleModel model = StyleModel::load(model_path);
  model.to(opt.device);
  ProgressLine progress("eval", static_cast<int64_t>(opt.methods.size() * contents.size() * styles.size()),
                        args.flag("quiet"));
  int64_t pairs = 0;
  const auto results = evaluate_methods(encoder, model, contents, styles, opt,
                                        [&](const std::string& what) { progress.update(++pairs, what); });
  const std::string table = eval_table(results, opt.loss.style_taps);
  std::printf("%zu contents x %zu styles at %lldx%lld, encoder %s\n\n%s", contents.size(), styles.size(),
              static_cast<long long>(opt.size), static_cast<long long>(opt.size), encoder.identity().str().c_str(),
              table.c_str());
  if (!table_path.empty()) write_file_atomic(table_path, table);
  if (!sheet_path.empty())
    for (const auto& m : results)
      if (m.method == sheet_method) save_image(contact_sheet(contents, styles, m.results), sheet_path);
  if (!sheets_dir.empty()) {
    fs::create_directories(sheets_dir);
    for (const auto& m : results)
      save_image(contact_sheet(contents, styles, m.results), (fs::path(sheets_dir) / (std::string(method_name(m.method)) + ".jpg")).string());
  }
  return 0;
}

}  // namespace

extern const Command kEvalCommand = {
    "eval", "score the model against AdaIN, WCT and optimisation; table and contact sheet",
    std::string(
        "usage: stylenet eval [--contents D|f1,f2] [--styles D|f1,f2] [--model M] [options]\n"
        "  --contents, --styles   folders or comma-separated files (default: the shared samples)\n"
        "  --heldout N            N x N pairs of the held-out protocol instead: every 10th photo and artwork\n"
        "                         of $STYLENET_DATA/data (no shipped decoder trained on them), N evenly spaced\n"
        "  --methods m1,m2        which methods, each a row (default: ") + method_names(EvalOptions{}.methods) +
        "):\n" +
    method_help(nullptr, 21) +
    std::string(
        "  --size N               pairs are evaluated at N x N (default 256)\n"
        "  --steps N              L-BFGS iterations for optimize (default 100)\n"
        "  --coarse-to-fine       optimize as `stylize --method optimize` does: smaller scales first\n"
        "                         (default: the full size only, Gatys as published)\n"
        "  --max-time S           optimize stops after S seconds per pair, shared among the scales (default: no limit)\n"
        "  --refine-steps N       L-BFGS iterations for refine, from the learned result (default 10)\n"
        "  --alpha A              the feed-forward methods' style strength at the model's tap (default 1)\n"
        "  --level-alpha A,B      the multi-level methods' strength at each shallower level (default --alpha)\n"
        "  --smooth R             the feed-forward methods' finishing as in `stylize`: guided-filter radius\n"
        "                         per 256 px (default as `stylize`; 0: off)\n"
        "  --no-color-match       ... and no match of the style's colours (both off: the decoder's output)\n"
        "  --laplacian-weight X   add the Laplacian (edge) term to the objective of optimize and refine\n"
        "                         (default 0)\n"
        "  --table T.md           write the Markdown table\n"
        "  --sheet S.png          write a contact sheet (styles across, contents down) of --sheet-method\n"
        "  --sheets DIR           write one contact sheet per method, DIR/<method>.jpg\n"
        "  --device D             cpu (default), cuda or cuda:N: where the feed-forward methods run\n"
        "                         (optimisation and the scores stay on the CPU)\n"
        "Scores: content loss at the model's tap, style loss (mean/std over relu1_2, relu2_2, relu3_3,\n"
        "relu4_3; the table gives each tap's term too), Gram loss over the same taps, edge SSIM to the photo,\n"
        "and identity (the share of results whose nearest style by Gram distance is the one used), all with\n"
        "the same encoder.\n"),
    run};

}  // namespace sn::cli
