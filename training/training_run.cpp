#include "training/training_run.h"

#include <cmath>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "stylenet/stylize.h"
#include "tensor/error.h"
#include "vision/data.h"
#include "vision/image.h"
#include "vision/plot.h"
#include "weights/safetensors.h"
#include "training/data_parallel.h"

namespace sn {

namespace fs = std::filesystem;

namespace {

// The first parameter (by module path) whose gradient holds a NaN or an infinity: where a
// diverging step shows up first, named so the user knows which layer blew up.
std::string first_nonfinite_grad(const std::vector<std::pair<std::string, Tensor>>& named) {
  for (const auto& [name, p] : named) {
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    for (float v : g.contiguous().to_vector<float>())
      if (!std::isfinite(v)) return name;
  }
  return "";
}

// Throws (the run stops; the last checkpoint on disk is the last good state) when a loss term or
// a gradient is not finite, naming the step, the term and the layer.
void check_finite(int64_t step, const Terms& terms, const std::vector<std::pair<std::string, Tensor>>& named,
                  const char* who) {
  for (const auto& [k, v] : terms)
    SN_CHECK(std::isfinite(v), "train: ", who, " loss term '", k, "' became ", v, " at step ", step,
             " (the run stopped at its last checkpoint; lower --lr or the loss weights)");
  const std::string bad = first_nonfinite_grad(named);
  SN_CHECK(bad.empty(), "train: a non-finite gradient in ", who, " layer '", bad, "' at step ", step, " (loss ",
           terms.count("loss") ? terms.at("loss") : 0.0, "; the run stopped at its last checkpoint; lower --lr)");
}

// A folder's training files: the part holdout_split keeps, then at most max_images of it.
std::vector<std::string> training_files(const std::string& dir, const TrainOptions& o) {
  return evenly_spaced(holdout_split(list_images(dir), o.holdout, false), o.max_images);
}

}  // namespace

struct TrainingRun::Adversary {
  Adversary(const TrainOptions& o, const TrainingRun& run)
      : gen(o.seed, 13),
        disc(o.adversarial.d, &gen),
        adam(disc.parameters(), AdamOptions{.lr = o.adversarial.d_lr, .beta1 = 0.5}),
        sched(adam, run.schedule(o.adversarial.d_lr)),
        pool(o.adversarial.pool, o.seed) {
    disc.train();
    SN_CHECK(Discriminator::output_size(o.crop, o.adversarial.d.layers, o.adversarial.d.scales - 1) >= 1,
             "train: --crop ", o.crop, " is too small for a discriminator of ", o.adversarial.d.layers, " layers at ",
             o.adversarial.d.scales, " scales");
  }
  // Rank r's pool in a checkpoint: "pool." for rank 0 (a single process's), "pool.rank<r>." else.
  static std::string pool_prefix(int rank) { return rank == 0 ? "pool." : "pool.rank" + std::to_string(rank) + "."; }

  // D, its optimizer and schedule (the same on every rank), and every rank's pool: what a
  // checkpoint's `extra` holds, complete on rank 0.
  TensorDict state_dict(Communicator& comm) const {
    TensorDict out;
    for (const auto& [prefix, dict] : {std::pair{"disc.", disc.state_dict()}, {"disc_optim.", adam.state_dict()},
                                       {"disc_sched.", sched.state_dict()}})
      for (const auto& [k, v] : dict.add_prefix(prefix)) out.insert(k, v);
    const std::vector<std::string> pools = comm.gather(encode_safetensors(pool.state_dict()));
    for (size_t r = 0; r < pools.size(); ++r)
      for (const auto& [k, v] : decode_safetensors(pools[r], "pool").tensors.add_prefix(pool_prefix(static_cast<int>(r))))
        out.insert(k, v);
    return out;
  }
  // A rank beyond those the checkpoint was written by starts with an empty pool.
  void load_state_dict(const TensorDict& extra, int rank) {
    disc.load_state_dict(extra.strip_prefix("disc."));
    adam.load_state_dict(extra.strip_prefix("disc_optim."));
    sched.load_state_dict(extra.strip_prefix("disc_sched."));
    TensorDict mine;
    for (const auto& [k, v] : extra.strip_prefix(pool_prefix(rank)))
      if (k.find('.') == std::string::npos) mine.insert(k, v);  // rank 0's "pool." holds the others too
    pool.load_state_dict(mine);
  }

  Generator gen;
  Discriminator disc;
  Adam adam;
  LRScheduler sched;
  ImagePool pool;
};

TrainingRun::~TrainingRun() = default;

TrainingRun::TrainingRun(const TrainOptions& options) : opt_(options) {
  SN_CHECK(!opt_.run_dir.empty(), "train: no run folder given");
  run_ = opt_.run_dir;
  checkpoint_path_ = run_ / "checkpoint.safetensors";
  std::optional<Checkpoint> ck;
  if (opt_.resume) {
    SN_CHECK(fs::exists(checkpoint_path_), "train: nothing to resume, '", checkpoint_path_.string(), "' does not exist");
    ck = load_checkpoint(checkpoint_path_);
    opt_.seed = ck->seed;  // checkpoints older than the "seed" record have it only here
    restore_settings(opt_, ck->info);
    start_ = ck->step;
  }
  check_settings(opt_);
  fs::create_directories(run_ / "samples");
  make_loaders();  // reads every image first: bad data fails before any model work
  encoder_.emplace(Vgg16::load());
  build_model(ck ? &*ck : nullptr);
  model_->to(opt_.device);  // before the optimizer: it keeps its state where the parameters are
  choose_parameters();
  if (opt_.adversarial.enabled()) adversary_ = std::make_unique<Adversary>(opt_, *this);
  if (ck) {
    adam_->load_state_dict(ck->optimizer);
    sched_->load_state_dict(ck->scheduler);
    if (adversary_) adversary_->load_state_dict(ck->extra, comm_.rank());
  }
  synchronize_replicas();
  if (comm_.root()) log_.emplace(run_ / "log.jsonl", ck ? start_ : -1);
}

// Every rank starts from rank 0's model, optimizer and schedule (and D's), checked bit for bit.
void TrainingRun::synchronize_replicas() {
  if (comm_.size() == 1) return;
  broadcast_in_place(comm_, model_->state_dict());
  adam_->load_state_dict(broadcast_copy(comm_, adam_->state_dict()));
  sched_->load_state_dict(broadcast_copy(comm_, sched_->state_dict()));
  if (adversary_) {
    broadcast_in_place(comm_, adversary_->disc.state_dict());
    adversary_->adam.load_state_dict(broadcast_copy(comm_, adversary_->adam.state_dict()));
    adversary_->sched.load_state_dict(broadcast_copy(comm_, adversary_->sched.state_dict()));
    check_identical(comm_, adversary_->disc.state_dict(), "discriminators");
  }
  check_identical(comm_, model_->state_dict(), "models");
  check_identical(comm_, adam_->state_dict(), "optimizer states");
}

void TrainingRun::build_model(const Checkpoint* ck) {
  Generator init_gen(opt_.seed, 11);
  const FusionStart start = opt_.model.fusion_start;  // before a loaded model's config replaces it
  model_.emplace(ck                         ? StyleModel::from_description(ck->info, checkpoint_path_.string())
                 : !opt_.init_model.empty() ? StyleModel::load(opt_.init_model)
                                            : StyleModel(opt_.model, encoder_->identity().str(), &init_gen));
  model_->check_encoder(*encoder_);
  // The decoder stage never trains W, so a fusion stage that starts from a decoder stage's model
  // starts W afresh (near the identity, see StyleModel) rather than from whatever it was left at;
  // unless that decoder stage itself started from a model with a trained W (sharpening the
  // decoder of a finished model), whose W still maps into the same encoder features.
  // --fusion-start restarts W from a loaded model whatever it was. The fresh W is drawn as part
  // of a whole fresh model (decoder first), as runs before --fusion-start drew it.
  const bool loaded = !ck && !opt_.init_model.empty();
  const bool init_w_trained = loaded && fusion_was_trained(model_->metadata());
  if (loaded && (opt_.restart_fusion || (opt_.stage == TrainStage::Fusion && !init_w_trained))) {
    StyleModelConfig fresh = model_->config();
    fresh.fusion_start = start;
    model_->take_fusion(StyleModel(fresh, model_->encoder_identity(), &init_gen));
  }
  opt_.model = model_->config();
  opt_.loss.content_tap = opt_.model.tap;
  w_trained_ = ck ? fusion_was_trained(ck->info)
                  : opt_.stage != TrainStage::Decoder || (init_w_trained && !opt_.restart_fusion);
  if (ck) model_->load_state_dict(ck->model);
}

// Which parts learn in this stage; the rest is frozen (gradients still flow through it).
void TrainingRun::choose_parameters() {
  const bool train_g = opt_.stage != TrainStage::Fusion, train_w = opt_.stage != TrainStage::Decoder;
  std::vector<Tensor> params;
  for (const auto& [module, learns] : {std::pair<Module*, bool>{model_->decoder.get(), train_g},
                                       {model_->fusion.get(), train_w}}) {
    for (const Tensor& p : module->parameters()) {
      p.set_requires_grad(learns);
      if (learns) params.push_back(p);
    }
    module->train();
  }
  for (const auto& [n, p] : model_->decoder->named_parameters()) named_params_.emplace_back("decoder." + n, p);
  for (const auto& [n, p] : model_->fusion->named_parameters()) named_params_.emplace_back("fusion." + n, p);
  adam_ = std::make_unique<Adam>(params, AdamOptions{.lr = opt_.lr});
  sched_ = std::make_unique<LRScheduler>(*adam_, schedule(opt_.lr));
}

// Warm-up, then cosine decay to a twentieth of the peak rate; D's optimizer follows the same shape.
std::shared_ptr<const LRSchedule> TrainingRun::schedule(double peak) const {
  return std::make_shared<LinearWarmup>(std::max<int64_t>(1, opt_.warmup), 0.01,
                                        std::make_shared<CosineAnnealingLR>(opt_.steps, peak / 20));
}

void TrainingRun::make_loaders() {
  LoaderOptions lo;
  lo.crop = opt_.crop;
  lo.batch = opt_.batch;
  lo.seed = opt_.seed;
  lo.first = comm_.rank() * opt_.batch;  // this rank's slice of the global batch
  const std::string data = opt_.content_dir.empty() || opt_.style_dir.empty() ? data_root() : "";
  lo.stream = 1;
  content_ = std::make_unique<ImageLoader>(
      training_files(opt_.content_dir.empty() ? data + "/data/content" : opt_.content_dir, opt_), lo);
  if (opt_.stage == TrainStage::Decoder) return;
  lo.stream = 2;
  style_ = std::make_unique<ImageLoader>(
      training_files(opt_.style_dir.empty() ? data + "/data/style" : opt_.style_dir, opt_), lo);
  if (!opt_.adversarial.enabled()) return;
  lo.stream = 3;
  real_ = std::make_unique<ImageLoader>(holdout_split(list_images(opt_.adversarial.real_dir), opt_.holdout, false), lo);
}

Terms TrainingRun::step(int64_t step) {
  comm_.sync_step(step);
  const double lr = sched_->last_lr()[0];
  Tensor images;
  Terms terms = generator_step(step, images);
  if (adversary_) discriminator_step(step, images, terms);
  if (log_) log_->append(step, lr, terms, clock());
  return terms;
}

TrainClock TrainingRun::clock() const {
  TrainClock c;
  c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  c.ranks = comm_.size();
  c.exchange_seconds = comm_.stats.allreduce_seconds;
  c.wait_seconds = comm_.stats.wait_seconds;
  c.exchange_bytes = comm_.stats.bytes;
  return c;
}

Terms TrainingRun::generator_step(int64_t step, Tensor& images) {
  const Tensor x = content_->batch(step).to(opt_.device);
  const Tensor s = style_ ? style_->batch(step).to(opt_.device) : Tensor();
  const StageLoss sl = stage_loss(*encoder_, *model_, opt_, x, s);
  Tensor loss = sl.total;
  Terms terms = sl.terms;
  if (adversary_) {  // the generator's side: D (frozen for this step) should call its outputs real
    for (const Tensor& p : adversary_->disc.parameters()) p.set_requires_grad(false);
    const Tensor g = generator_loss(opt_.adversarial.loss, adversary_->disc.forward_scales(sl.image));
    loss = loss + g * opt_.adversarial.weight;
    terms["adv_g"] = g.item();
    terms["loss"] = loss.item();
  }
  adam_->zero_grad();
  backward(loss);
  average_gradients(comm_, adam_->param_groups().front().params);  // the global batch's gradient
  average_terms(comm_, terms);
  check_finite(step, terms, named_params_, "generator");
  if (opt_.clip_grad > 0) terms["grad_norm"] = clip_grad_norm_(adam_->param_groups().front().params, opt_.clip_grad);
  adam_->step();
  sched_->step();
  images = sl.image;
  return terms;
}

// D's side: artwork crops are real, outputs (through the pool) fake.
void TrainingRun::discriminator_step(int64_t step, const Tensor& images, Terms& terms) {
  Adversary& a = *adversary_;
  for (const Tensor& p : a.disc.parameters()) p.set_requires_grad(true);
  const Tensor fake = a.pool.query(images.detach(), step);
  double d_loss = 0;
  DiscriminatorAccuracy acc;
  for (int64_t i = 0; i < opt_.adversarial.d_ratio; ++i) {
    const std::vector<Tensor> r = a.disc.forward_scales(real_->batch((step - 1) * opt_.adversarial.d_ratio + i + 1));
    const std::vector<Tensor> f = a.disc.forward_scales(fake);
    const Tensor dl = discriminator_loss(opt_.adversarial.loss, r, f);
    a.adam.zero_grad();
    backward(dl);
    average_gradients(comm_, a.disc.parameters());
    Terms d_terms = {{"adv_d", dl.item()}};
    average_terms(comm_, d_terms);
    d_loss = d_terms.at("adv_d");
    check_finite(step, d_terms, a.disc.named_parameters(), "discriminator");
    a.adam.step();
    acc = discriminator_accuracy(opt_.adversarial.loss, r, f);
  }
  a.sched.step();
  Terms accuracy = {{"d_acc_real", acc.real}, {"d_acc_fake", acc.fake}};  // adv_d is averaged already
  average_terms(comm_, accuracy);
  terms.insert(accuracy.begin(), accuracy.end());
  terms["adv_d"] = d_loss;
}

void TrainingRun::save(int64_t step) {
  Checkpoint c;
  c.model = model_->state_dict();
  c.optimizer = adam_->state_dict();
  c.scheduler = sched_->state_dict();
  c.step = step;
  c.seed = opt_.seed;
  c.info = model_->describe();  // shape and encoder, as a model file records them
  c.info.merge(settings_metadata(opt_));
  c.info["w_trained"] = w_trained_ ? "1" : "0";
  c.info["ranks"] = std::to_string(comm_.size());  // --batch is each rank's share
  if (adversary_) c.extra = adversary_->state_dict(comm_);
  if (comm_.root()) save_checkpoint(checkpoint_path_, c);
}

// A sheet of the sample photos through the model: reconstructions in the decoder stage, else
// each photo in the first three sample styles.
void TrainingRun::write_samples(int64_t step) {
  if (!comm_.root()) return;
  NoGradGuard ng;
  model_->decoder->eval();
  model_->fusion->eval();
  const bool decoder_stage = opt_.stage == TrainStage::Decoder;
  const int64_t side = 2 * opt_.crop;
  const auto contents = sample_images("content_"), styles = sample_images("style_");
  const size_t nc = std::min<size_t>(3, contents.size()), ns = decoder_stage ? 0 : std::min<size_t>(3, styles.size());
  std::vector<Tensor> cells, style_imgs;
  for (size_t j = 0; j < ns; ++j) style_imgs.push_back(resize_image(load_image(styles[j]), side, side).to(opt_.device));
  if (ns) {
    cells.push_back(Tensor::ones({1, 3, side, side}));
    cells.insert(cells.end(), style_imgs.begin(), style_imgs.end());
  }
  const std::string& tap = opt_.model.tap;
  for (size_t i = 0; i < nc; ++i) {
    const Tensor c = resize_image(load_image(contents[i]), side, side).to(opt_.device);
    cells.push_back(c);
    if (decoder_stage) cells.push_back(clamp(model_->decoder->forward(encoder_->features(c, {tap}).at(tap)), 0.0, 1.0));
    for (const Tensor& s : style_imgs) cells.push_back(stylize(*encoder_, *model_, c, {{s, 1.0}}, {}));
  }
  const std::string name = "step_" + std::to_string(step) + ".png";
  save_image(image_grid(cells, decoder_stage ? 2 : static_cast<int64_t>(ns) + 1), (run_ / "samples" / name).string());
  model_->decoder->train();
  model_->fusion->train();
}

void TrainingRun::finish(bool interrupted) {
  if (!comm_.root()) return;
  log_->close();
  std::vector<PlotSeries> series;
  for (auto& [name, values] : TrainLog::read_series(run_ / "log.jsonl")) {
    PlotSeries s{name, std::move(values), {0, 0, 0}};
    palette_colour(series.size(), s.rgb);
    series.push_back(std::move(s));
  }
  save_image(plot_series(series), (run_ / "loss.png").string());
  if (!interrupted)
    model_->save(run_ / "model.safetensors", StoredDType::Native,
                 {{"trained_stage", train_stage_name(opt_.stage)}, {"steps", std::to_string(opt_.steps)},
                  {"w_trained", w_trained_ ? "1" : "0"}});
}

bool fusion_was_trained(const Metadata& m) {
  if (m.count("w_trained")) return m.at("w_trained") == "1";
  const auto stage = m.find(m.count("trained_stage") ? "trained_stage" : "stage");
  return stage == m.end() || stage->second != "decoder";
}

}  // namespace sn
