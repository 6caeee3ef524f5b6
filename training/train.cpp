// The training loop (train.h). Everything a step does lives in TrainingRun (training_run.h).
#include "training/train.h"

#include <atomic>
#include <csignal>
#include <filesystem>

#include "tensor/error.h"
#include "training/training_run.h"
#include "vision/data.h"
#include "vision/image.h"
#include "weights/checkpoint.h"

namespace sn {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop.store(true); }

// Installs SIGINT/SIGTERM handlers for the duration of a run and puts the old ones back.
struct SignalScope {
  using Handler = void (*)(int);
  Handler old_int, old_term;
  SignalScope() {
    g_stop.store(false);
    old_int = std::signal(SIGINT, on_stop_signal);
    old_term = std::signal(SIGTERM, on_stop_signal);
  }
  ~SignalScope() {
    std::signal(SIGINT, old_int);
    std::signal(SIGTERM, old_term);
  }
};

}  // namespace

void request_training_stop() { g_stop.store(true); }

TrainReport train_style_model(const TrainOptions& options, const TrainProgress& progress) {
  SignalScope signals;
  TrainingRun run(options);
  TrainReport report;
  report.first_step = run.first_step();
  report.last_step = run.first_step() - 1;
  for (int64_t step = run.first_step(); step <= run.last_step(); ++step) {
    const Terms terms = run.step(step);
    for (const auto& [k, v] : terms) report.losses[k].push_back(v);
    report.last_step = step;
    if (progress) progress(step, run.last_step(), terms);
    const bool stop = run.stop_requested(g_stop.load());  // every rank stops at the same step
    if (stop || run.checkpoint_due(step)) run.save(step);
    if (!stop && run.samples_due(step)) run.write_samples(step);
    if (stop) {
      report.interrupted = true;
      break;
    }
  }
  run.finish(report.interrupted);
  return report;
}

int64_t export_model(const std::string& run_dir, const std::string& out, StoredDType stored,
                     const std::string& collection_dir) {
  const fs::path ckpt_path = fs::path(run_dir) / "checkpoint.safetensors";
  SN_CHECK(fs::exists(ckpt_path), "export: '", ckpt_path.string(), "' does not exist");
  const Checkpoint ck = load_checkpoint(ckpt_path);
  StyleModel model = StyleModel::from_description(ck.info, ckpt_path.string());
  model.load_state_dict(ck.model);
  model.fusion->eval();
  if (!collection_dir.empty()) {
    const Vgg16 encoder = Vgg16::load();
    model.check_encoder(encoder);
    std::vector<Tensor> artworks;
    // The artworks the run trained on: its held-out ones stay unseen (the judge's).
    const int64_t holdout = ck.info.count("holdout") ? std::stoll(ck.info.at("holdout")) : 0;
    for (const std::string& f : holdout_split(list_images(collection_dir), holdout, false)) artworks.push_back(load_image(f));
    // Named after the folder ("vangogh" for ".../vangogh/" too: a trailing slash leaves an empty filename).
    const fs::path dir = fs::path(collection_dir).lexically_normal();
    const std::string name = (dir.has_filename() ? dir : dir.parent_path()).filename().string();
    model.collection = collection_style(encoder, model, artworks, name);
  }
  SN_CHECK(ck.info.count("stage"), "export: checkpoint metadata lacks 'stage'");
  model.save(out, stored, {{"trained_stage", ck.info.at("stage")}, {"steps", std::to_string(ck.step)},
                           {"w_trained", fusion_was_trained(ck.info) ? "1" : "0"}});
  return ck.step;
}

}  // namespace sn
