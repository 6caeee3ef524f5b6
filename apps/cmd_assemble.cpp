// `stylenet assemble`: joins a model and decoders trained at shallower taps into one multi-level
// model (StyleModel::levels), which the multilevel methods of `stylenet stylize` use.
#include <cstdio>
#include <filesystem>

#include "apps/args.h"
#include "apps/command.h"
#include "stylenet/style_model.h"

namespace sn::cli {

namespace {

namespace fs = std::filesystem;

StyleModel load_existing(const std::string& path) {
  if (!fs::exists(path)) throw Error("model '" + path + "' does not exist");
  return StyleModel::load(path);
}

int run(const std::vector<std::string>& argv) {
  const Args args(argv, {"model", "levels", "out"}, {"half"});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "'");
  const std::string out = args.require("out");
  check_output_path(out, {".safetensors"});
  const std::vector<std::string> level_files = split_list(args.require("levels"));
  if (level_files.empty()) throw UsageError("--levels names no model");
  StyleModel model = load_existing(resolve_model_path(args.require("model")).string());
  model.levels.clear();  // the levels given replace any the model had
  for (const std::string& f : level_files) model.add_level(load_existing(f));
  // The model's own record (how it was trained) stays; save() rewrites what describes its shape.
  model.save(out, args.flag("half") ? StoredDType::F16 : StoredDType::Native, model.metadata());
  std::string taps;
  for (const StyleLevel& l : model.levels) taps += " " + l.tap;
  std::printf("wrote %s: %s, then%s\n", out.c_str(), model.config().tap.c_str(), taps.c_str());
  return 0;
}

}  // namespace

extern const Command kAssembleCommand = {
    "assemble", "join a model and shallower decoders into one multi-level model",
    "usage: stylenet assemble --model M --levels L1[,L2...] --out OUT.safetensors [--half]\n"
    "  --model M      the model (a file or a shipped model's name) whose tap is the deepest level\n"
    "  --levels L,..  models trained with `stylenet train --stage decoder --tap relu2_1` (or relu1_1),\n"
    "                 deepest first; only their decoders are kept. They replace the model's levels.\n"
    "  --half         store F16 (half the size)\n",
    run};

}  // namespace sn::cli
