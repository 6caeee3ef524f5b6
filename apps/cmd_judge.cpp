// `stylenet judge`: trains the Van Gogh-vs-photo judge on held-out files and scores a style model
// by how often its stylized held-out photos pass for Van Gogh (training/judge.h).
#include <cstdint>
#include <cstdio>
#include <filesystem>

#include "apps/args.h"
#include "apps/command.h"
#include "apps/progress.h"
#include "vision/data.h"
#include "vision/image.h"
#include "training/judge.h"

namespace sn::cli {

namespace {

namespace fs = std::filesystem;

int train(const std::vector<std::string>& argv) {
  const Args args(argv, {"out", "positive", "negative", "holdout", "steps", "batch", "crop", "lr", "seed", "threads"},
                  {"quiet"});
  if (args.positional().size() > 1) throw UsageError("unexpected argument '" + args.positional()[1] + "'");
  apply_threads(args);
  const std::string out = args.require("out");
  check_output_path(out, {".safetensors"});
  JudgeTrainOptions o;
  o.positive_dir = args.get("positive", "");
  o.negative_dir = args.get("negative", "");
  o.holdout = args.get_int("holdout", o.holdout, 2, 1000);
  o.steps = args.get_int("steps", o.steps, 1, 1000000);
  o.batch = args.get_int("batch", o.batch, 2, 1024);
  if (o.batch % 2) throw UsageError("--batch must be even (half paintings, half photos), got " + std::to_string(o.batch));
  o.crop = args.get_int("crop", o.crop, 32, 1024);
  o.lr = args.get_double("lr", o.lr, 1e-7, 1.0);
  o.seed = static_cast<uint64_t>(args.get_int("seed", 1, 0, INT64_MAX));
  for (const auto& dir : {o.positive_dir, o.negative_dir})
    if (!dir.empty() && !fs::is_directory(dir)) throw Error("folder '" + dir + "' does not exist");

  JudgeReport r;
  ProgressLine progress("judge train", o.steps, args.flag("quiet"));
  const auto judge = train_judge(o, r, [&](int64_t step, double loss) { progress.update(step + 1, "loss " + std::to_string(loss)); });
  char acc[64];
  std::snprintf(acc, sizeof acc, "%.4f,%.4f", r.painting_accuracy, r.photo_accuracy);
  judge->save(out, {{"steps", std::to_string(o.steps)},
                    {"batch", std::to_string(o.batch)},
                    {"seed", std::to_string(o.seed)},
                    {"validation_accuracy", acc}});
  std::printf("judge trained on %lld paintings + %lld photos (held out, holdout %lld), %lld steps in %.1f s\n",
              static_cast<long long>(r.train_paintings), static_cast<long long>(r.train_photos),
              static_cast<long long>(o.holdout), static_cast<long long>(o.steps), r.seconds);
  std::printf("validation: paintings %.3f (%lld), photos %.3f (%lld), balanced %.3f; loss %.4f -> %.4f\n",
              r.painting_accuracy, static_cast<long long>(r.validation_paintings), r.photo_accuracy,
              static_cast<long long>(r.validation_photos), r.balanced_accuracy(), r.initial_validation_loss,
              r.validation_loss);
  std::printf("wrote %s\n", out.c_str());
  return 0;
}

// The models to score, each loaded and checked (a model without a built-in style needs --style).
std::vector<std::pair<std::string, StyleModel>> load_models(const std::vector<std::string>& names, bool have_style) {
  if (names.empty()) throw UsageError("--model names no model");
  std::vector<std::pair<std::string, StyleModel>> models;
  for (const std::string& m : names) {
    const fs::path path = resolve_model_path(m);
    if (!fs::is_regular_file(path)) throw Error("model '" + path.string() + "' does not exist");
    StyleModel model = StyleModel::load(path);
    if (!have_style && !model.collection)
      throw UsageError("--style is required: model '" + path.string() + "' has no built-in style");
    models.emplace_back(path.stem().string(), std::move(model));
  }
  return models;
}

// A folder: its score part (judge_split), the photos neither the judge nor a --holdout run saw.
// A list of files: those, as given (e.g. the public-domain samples for a README sheet).
std::vector<std::string> score_photos(const std::string& photos, const Judge& judge, int64_t count) {
  std::vector<std::string> files;
  const std::vector<std::string> listed = split_list(photos);
  if (listed.size() > 1 || (listed.size() == 1 && fs::is_regular_file(listed[0]))) {
    for (const auto& f : listed)
      if (!fs::is_regular_file(f)) throw Error("photo '" + f + "' does not exist");
    files = listed;
  } else {
    const std::string dir = photos.empty() ? data_root() + "/data/content" : photos;
    if (!fs::is_directory(dir)) throw Error("folder '" + dir + "' does not exist");
    files = judge_split(list_images(dir), judge.config().holdout, JudgeRole::Photos).score;
    if (files.empty()) throw Error("folder '" + dir + "' has no score photos");
  }
  if (count > 0 && static_cast<int64_t>(files.size()) > count) files.resize(count);
  return files;
}

// What a table row adds to the model's name: the styles used, the strength.
std::string row_suffix(const std::vector<std::string>& style_files, const Args& args) {
  std::string suffix;
  for (size_t i = 0; i < style_files.size(); ++i)
    suffix += (i ? "," : " (") + fs::path(style_files[i]).stem().string() + (i + 1 == style_files.size() ? ")" : "");
  if (args.has("alpha") && args.get_double("alpha", 1.0, 0.0, 1.0) < 1) suffix += " alpha " + args.get("alpha", "");
  return suffix;
}

int score(const std::vector<std::string>& argv) {
  const Args args(argv, {"judge", "model", "style", "photos", "size", "count", "threads", "alpha", "sheet", "sheet-rows",
                         "smooth"},
                  {"header", "quiet", "no-color-match"});
  if (args.positional().size() > 1) throw UsageError("unexpected argument '" + args.positional()[1] + "'");
  apply_threads(args);
  const fs::path judge_path = args.require("judge");
  const std::vector<std::string> style_files = args.has("style") ? split_list(args.get("style", "")) : std::vector<std::string>{};
  if (args.has("style") && style_files.empty()) throw UsageError("--style names no image");
  const int64_t size = args.get_int("size", 256, 0, 4096);
  const int64_t count = args.get_int("count", 0, 0, 1000000);
  StylizeOptions so;
  so.alpha = args.get_double("alpha", 1.0, 0.0, 1.0);
  const FinishOptions finishing = finish_options(args);
  const std::string sheet = args.get("sheet", "");
  const int64_t sheet_rows = args.get_int("sheet-rows", 4, 1, static_cast<int64_t>(JudgeScore::kExamples));
  if (args.has("sheet")) check_output_path(sheet, {".png", ".jpg", ".jpeg"});
  const bool quiet = args.flag("quiet");

  // Every file is checked before the slow part (the encoder, stylizing) starts.
  const auto judge = Judge::load(judge_path);
  const auto models = load_models(split_list(args.require("model")), !style_files.empty());
  std::vector<StyleImage> styles;
  for (const auto& f : style_files) {
    if (!fs::is_regular_file(f)) throw Error("style image '" + f + "' does not exist");
    styles.push_back({load_image(f), 1.0});
  }
  std::vector<Tensor> photos;
  for (const auto& f : score_photos(args.get("photos", ""), *judge, count)) photos.push_back(load_image(f));

  const Vgg16 encoder = Vgg16::load();
  for (const auto& [name, model] : models) model.check_encoder(encoder);
  if (args.flag("header")) std::printf("%s", judge_table_header().c_str());
  // Sheet: one row per photo, the photo then each model's result, every cell a centre square.
  const int64_t rows = std::min<int64_t>(sheet_rows, static_cast<int64_t>(photos.size()));
  std::vector<Tensor> cells;
  std::vector<std::vector<Tensor>> by_row(rows);
  for (const auto& [name, model] : models) {
    ProgressLine progress(name + ": stylize", static_cast<int64_t>(photos.size()), quiet);
    const JudgeScore s = score_stylized(*judge, encoder, model, photos, styles, size,
                                        [&](int64_t i) { progress.update(i + 1); }, so, finishing);
    std::printf("%s", judge_table_row(name + row_suffix(style_files, args), s).c_str());
    std::fflush(stdout);
    for (int64_t r = 0; r < rows; ++r) {
      if (by_row[r].empty()) by_row[r].push_back(judge_view(s.example_photos[r], 256));
      by_row[r].push_back(judge_view(s.example_results[r], 256));
    }
  }
  if (!args.has("sheet")) return 0;
  for (const auto& row : by_row) cells.insert(cells.end(), row.begin(), row.end());
  save_image(image_grid(cells, static_cast<int64_t>(models.size()) + 1), sheet);
  if (!quiet) std::fprintf(stderr, "wrote %s\n", sheet.c_str());
  return 0;
}

int run(const std::vector<std::string>& argv) {
  if (argv.empty()) throw UsageError("missing subcommand: train or score");
  if (argv[0] == "train") return train(argv);
  if (argv[0] == "score") return score(argv);
  throw UsageError("unknown subcommand '" + argv[0] + "' (train or score)");
}

}  // namespace

extern const Command kJudgeCommand = {
    "judge", "train the Van Gogh-vs-photo judge; score a model by how often it fools it",
    "usage: stylenet judge train --out J.safetensors [options]\n"
    "       stylenet judge score --judge J.safetensors --model M [options]\n"
    "The judge sees only held-out files (every N-th of each sorted folder, N = --holdout, as\n"
    "`stylenet train --holdout N` leaves out); among them, by position j: paintings j%3<2 train,\n"
    "j%3==2 validation; photos j%3==0 train, 1 validation, 2 score.\n"
    "train:\n"
    "  --out J.safetensors  where to write the judge (atomically)\n"
    "  --positive DIR       Van Gogh paintings (default $STYLENET_DATA/data/style/vangogh)\n"
    "  --negative DIR       photos (default $STYLENET_DATA/data/content)\n"
    "  --holdout N          the generator's --holdout (default 4)\n"
    "  --steps N            training steps (default 400)\n"
    "  --batch N            images per step, half of each class (even, default 16)\n"
    "  --crop N             side of the crops it trains on and looks at (default 128)\n"
    "  --lr X               Adam learning rate (default 0.001)\n"
    "  --seed N             initialisation and batches (default 1)\n"
    "  Prints the accuracy on the validation paintings and photos.\n"
    "score:\n"
    "  --judge J            a judge file written by 'judge train'\n"
    "  --model M            style model file, or the name of one in models/\n"
    "  --style S[,S2...]    style images (default: the model's built-in style)\n"
    "  --photos DIR         photos (default $STYLENET_DATA/data/content); their score part is used\n"
    "  --photos F1,F2,...   or exactly these photo files\n"
    "  --size N             photos' short side before stylizing (default 256; 0 = as is)\n"
    "  --alpha A            style strength in [0, 1] passed to stylize (default 1)\n" +
    finish_help() +
    "  --model A,B,...      several models: one row each, scored on the same photos\n"
    "  --sheet S.png        contact sheet: the first --sheet-rows (4) photos and each model's result\n"
    "  --count N            only the first N score photos (default: all)\n"
    "  --header             print the table header before the row\n"
    "  Prints one Markdown row: model, fraction of stylized photos called Van Gogh, their mean p,\n"
    "  mean edge SSIM to the photo, fraction of the raw photos called Van Gogh.\n"
    "both:\n"
    "  --threads N          CPU threads (default: STYLENET_THREADS or all cores)\n"
    "  --quiet              no progress on stderr\n",
    run};

}  // namespace sn::cli
