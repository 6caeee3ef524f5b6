// One training run, as the loop in train.cpp sees it: set up (or restored from the run folder's
// checkpoint), then step by step a generator update and, in adversarial runs, the
// discriminator's, with checkpoints, the log and sample sheets along the way.
#pragma once
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "optim/optim.h"
#include "training/train.h"
#include "training/communicator.h"
#include "training/train_log.h"
#include "vision/loader.h"
#include "weights/checkpoint.h"

namespace sn {

using Terms = std::map<std::string, double>;

// Whether W in a model file or checkpoint has been trained: its "w_trained" record, else (files
// written before that record) whether a stage other than the decoder's wrote it.
bool fusion_was_trained(const Metadata& metadata);

class TrainingRun {
 public:
  ~TrainingRun();
  TrainingRun(const TrainingRun&) = delete;
  TrainingRun& operator=(const TrainingRun&) = delete;

  // Sets the run up from `options`, or, with options.resume, from its checkpoint (the settings
  // the checkpoint records win, so a resume cannot drift from the run it continues).
  explicit TrainingRun(const TrainOptions& options);

  const TrainOptions& options() const { return opt_; }
  int64_t first_step() const { return start_ + 1; }
  int64_t last_step() const { return opt_.steps; }

  // The generator's update (plus D's in an adversarial run) for `step`; the terms it logged.
  Terms step(int64_t step);
  // Whether any rank was asked to stop (every rank must stop at the same step).
  bool stop_requested(bool here) { return comm_.any(here); }
  bool checkpoint_due(int64_t step) const { return step % opt_.checkpoint_every == 0 || step == opt_.steps; }
  bool samples_due(int64_t step) const {
    return (opt_.sample_every > 0 && step % opt_.sample_every == 0) || step == opt_.steps;
  }
  void save(int64_t step);
  void write_samples(int64_t step);
  // The loss plot of the whole run; the model file unless the run was interrupted.
  void finish(bool interrupted);

 private:
  struct Adversary;  // D, its optimizer, its schedule, the pool of past outputs, the artworks

  void build_model(const Checkpoint* ck);
  void synchronize_replicas();
  void choose_parameters();
  void make_loaders();
  TrainClock clock() const;
  Terms generator_step(int64_t step, Tensor& images);
  void discriminator_step(int64_t step, const Tensor& images, Terms& terms);
  std::shared_ptr<const LRSchedule> schedule(double peak) const;

  Communicator& comm_ = world_communicator();
  TrainOptions opt_;
  std::filesystem::path run_, checkpoint_path_;
  int64_t start_ = 0;
  bool w_trained_ = false;  // whether the model this run writes has a trained W
  std::optional<Vgg16> encoder_;
  std::optional<StyleModel> model_;
  std::unique_ptr<Adam> adam_;
  std::unique_ptr<LRScheduler> sched_;
  std::vector<std::pair<std::string, Tensor>> named_params_;  // of G and W, for naming a bad gradient
  std::unique_ptr<Adversary> adversary_;
  std::unique_ptr<ImageLoader> content_, style_, real_;  // real_: artwork crops D learns as real
  std::optional<TrainLog> log_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

}  // namespace sn
