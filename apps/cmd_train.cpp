// `stylenet train`: trains the decoder, the learned fusion, or both, on content and style folders.
// Its training options come from the settings table (training/train_options.h).
#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <thread>

#include "apps/args.h"
#include "apps/command.h"
#include "apps/progress.h"
#include "tensor/threads.h"
#include "training/communicator.h"
#include "training/train.h"

namespace sn::cli {

namespace {

Args parse_args(const std::vector<std::string>& argv) {
  std::set<std::string> options = {"run", "init", "threads", "export", "collection", "device"};
  std::set<std::string> switches = {"resume", "quiet", "half"};
  for (const TrainSetting& s : train_settings()) (is_switch(s) ? switches : options).insert(s.flag);
  return Args(argv, options, switches);
}

int export_run(const Args& args) {
  const std::string out = args.get("export", "");
  check_output_path(out, {".safetensors"});
  const std::string collection = args.get("collection", "");
  if (args.has("collection") && !std::filesystem::is_directory(collection))
    throw Error("--collection: '" + collection + "' is not a folder of artworks");
  const int64_t step =
      export_model(args.require("run"), out, args.flag("half") ? StoredDType::F16 : StoredDType::Native, collection);
  std::printf("exported the model at step %lld to %s\n", static_cast<long long>(step), out.c_str());
  return 0;
}

// Refuses a setting where it does nothing: the table says where each applies.
void check_scope(const TrainSetting& s, const TrainOptions& o, const Args& args) {
  const std::string flag = std::string("--") + s.flag;
  if (o.resume && s.key)
    throw UsageError("--resume continues the run exactly as it was set up (its checkpoint records " + flag +
                     "); drop " + flag);
  switch (s.scope) {
    case SettingScope::Any: return;
    case SettingScope::DecoderStage:
      if (o.stage != TrainStage::Decoder) throw UsageError(flag + " applies only to --stage decoder");
      return;
    case SettingScope::StyledStages:
      if (o.stage == TrainStage::Decoder) throw UsageError(flag + " applies only to --stage fusion or joint");
      return;
    case SettingScope::Adversarial:
      if (!args.has("adversarial")) throw UsageError(flag + ": the discriminator options need --adversarial DIR");
      return;
    case SettingScope::FreshFusion:
      if (o.resume) throw UsageError("--resume continues W as it was; drop " + flag);
      if (o.stage == TrainStage::Decoder) throw UsageError(flag + " applies only to --stage fusion or joint");
      return;
    case SettingScope::NewModel:
      if (o.resume || !o.init_model.empty())
        throw UsageError(flag + " sets the shape of a new model; one from --init or --resume has its own");
      return;
  }
}

TrainOptions train_options(const Args& args) {
  TrainOptions o;
  o.run_dir = args.require("run");
  o.resume = args.flag("resume");
  o.init_model = args.get("init", "");
  if (o.resume && !o.init_model.empty()) throw UsageError("--resume continues a run; drop --init");
  for (const TrainSetting& s : train_settings()) {
    if (!args.has(s.flag)) continue;
    try {
      set_setting(s, o, is_switch(s) ? "1" : args.get(s.flag, ""));
    } catch (const Error& e) {
      throw UsageError(std::string("--") + s.flag + ": " + e.what());
    }
  }
  for (const TrainSetting& s : train_settings())
    if (args.has(s.flag)) check_scope(s, o, args);
  if (args.has("adversarial") && !std::filesystem::is_directory(o.adversarial.real_dir))
    throw Error("--adversarial: '" + o.adversarial.real_dir + "' is not a folder of artworks");
  if (!o.init_model.empty() && !std::filesystem::exists(o.init_model))
    throw Error("--init: model '" + o.init_model + "' does not exist");
  o.device = device_option(args);
  if (o.device != Device{} && args.has("adversarial"))
    throw UsageError("--device: adversarial training runs on the CPU only (its image pool and discriminator have no GPU path yet)");
  return o;
}

// Steps, rate, ETA and every loss term on one line that rewrites itself.
TrainProgress progress_line(bool quiet) {
  auto line = std::make_shared<ProgressLine>("train", 0, quiet);
  return [line](int64_t step, int64_t total, const std::map<std::string, double>& terms) {
    char buf[64];
    std::string detail;
    for (const auto& [k, v] : terms) {
      std::snprintf(buf, sizeof buf, " %s %.4g", k.c_str(), v);
      detail += buf;
    }
    line->set_total(total);
    line->update(step, detail);
  };
}

// Under MPI, each rank gets the node's cores divided by its ranks on the node (never more threads
// than cores), unless --threads or STYLENET_THREADS asks for fewer.
void share_cores(const Communicator& comm) {
  if (comm.size() == 1) return;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int share = std::max(1, cores / comm.local_size());
  if (num_threads() > share) set_num_threads(share);
  if (comm.root())
    std::fprintf(stderr, "stylenet train: %s, global batch = %d x --batch, %d thread(s) per rank\n",
                 comm.describe().c_str(), comm.size(), num_threads());
}

int run(const std::vector<std::string>& argv) {
  const Args args = parse_args(argv);
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "'");
  apply_threads(args);
  if (args.has("export")) return export_run(args);  // no training: the model of the last checkpoint
  const TrainOptions o = train_options(args);
  Communicator& comm = world_communicator();
  if (comm.size() > 1 && o.device != Device{})
    throw UsageError("--device: data-parallel training over MPI runs on the CPU only (gradients are exchanged from host memory)");
  share_cores(comm);
  const TrainReport r = train_style_model(o, progress_line(args.flag("quiet") || !comm.root()));
  if (!comm.root()) return r.interrupted ? 130 : 0;
  if (r.interrupted) {
    std::fprintf(stderr, "\ninterrupted: checkpoint saved at step %lld; continue with --run %s --resume\n",
                 static_cast<long long>(r.last_step), o.run_dir.c_str());
    return 130;
  }
  std::printf("trained to step %lld; model: %s/model.safetensors\n", static_cast<long long>(r.last_step),
              o.run_dir.c_str());
  return 0;
}

}  // namespace

extern const Command kTrainCommand = {
    "train", "train the style model (decoder, fusion or joint stage)",
    std::string(
        "usage: stylenet train --run DIR [--stage decoder|fusion|joint] [options]\n"
        "       stylenet train --run DIR --resume\n"
        "       stylenet train --run DIR --export OUT.safetensors [--half] [--collection DIR]\n"
        "  --run DIR               run folder: checkpoint, log.jsonl, loss.png, samples/, model.safetensors\n"
        "  --init M                start from a model file (e.g. the decoder stage's model.safetensors)\n"
        "  --resume                continue the run in DIR bit-identically, with the settings it recorded\n"
        "  --threads N             CPU threads (results are reproducible for a fixed thread count)\n"
        "  --device D              cpu (default), cuda or cuda:N (a build with STYLENET_CUDA and a GPU;\n"
        "                          not with --adversarial or MPI); a checkpoint resumes on either\n"
        "  --quiet                 no progress line\n"
        "  --export OUT            write the model at the last checkpoint (--half: F16); --collection DIR\n"
        "                          builds in the average style of the artworks in DIR (then\n"
        "                          `stylize --model OUT` needs no --style)\n"
        "training settings (default in parentheses; the checkpoint records them):\n") +
    settings_help() + "Ctrl-C finishes the step, saves a checkpoint and exits.\n",
    run};

}  // namespace sn::cli
