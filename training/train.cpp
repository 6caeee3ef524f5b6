#include "training/train.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "optim/optim.h"
#include "vision/data.h"
#include "vision/image.h"
#include "vision/loader.h"
#include "vision/plot.h"
#include "stylenet/stylize.h"
#include "tensor/error.h"
#include "weights/atomic_file.h"
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

std::string fmt(double v) {
  std::ostringstream os;
  os.precision(9);
  os << v;
  return os.str();
}

const std::string& info_at(const Metadata& m, const std::string& key) {
  const auto it = m.find(key);
  SN_CHECK(it != m.end(), "checkpoint: metadata lacks '", key, "'");
  return it->second;
}

// Keeps only the log lines of steps <= last (a resumed run rewrites what came after its checkpoint).
void truncate_log(const fs::path& path, int64_t last) {
  if (!fs::exists(path)) return;
  std::ifstream in(path);
  std::string line, kept;
  while (std::getline(in, line)) {
    const auto p = line.find("\"step\":");
    if (p == std::string::npos) continue;
    if (std::stoll(line.substr(p + 7)) <= last) kept += line + "\n";
  }
  write_file_atomic(path, kept);
}

// Every step's value of each term, from the whole log (for the plot after a resume too).
std::map<std::string, std::vector<double>> read_log(const fs::path& path) {
  std::map<std::string, std::vector<double>> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    // Lines look like {"step":1,"lr":...,"loss":...,"content":...}: parse "key":number pairs.
    size_t p = 0;
    while ((p = line.find('"', p)) != std::string::npos) {
      const size_t q = line.find('"', p + 1);
      if (q == std::string::npos || q + 1 >= line.size() || line[q + 1] != ':') break;
      const std::string key = line.substr(p + 1, q - p - 1);
      size_t used = 0;
      const double v = std::stod(line.substr(q + 2), &used);
      if (key != "step" && key != "lr" && key != "time") out[key].push_back(v);
      p = q + 2 + used;
    }
  }
  return out;
}

// The adversarial settings as checkpoint metadata, and back (a resume continues with them).
Metadata adversarial_info(const AdversarialOptions& a) {
  return {{"adversarial", a.real_dir}, {"d_base", std::to_string(a.d.base)}, {"d_layers", std::to_string(a.d.layers)},
          {"d_spectral_norm", a.d.spectral_norm ? "1" : "0"}, {"d_scales", std::to_string(a.d.scales)},
          {"gan_loss", gan_loss_name(a.loss)}, {"adv_weight", fmt(a.weight)}, {"d_ratio", std::to_string(a.d_ratio)},
          {"d_lr", fmt(a.d_lr)}, {"pool", std::to_string(a.pool)}};
}

AdversarialOptions adversarial_from_info(const Metadata& m) {
  AdversarialOptions a;
  if (!m.count("adversarial")) return a;
  a.real_dir = m.at("adversarial");
  a.d.base = std::stoll(info_at(m, "d_base"));
  a.d.layers = std::stoll(info_at(m, "d_layers"));
  a.d.spectral_norm = info_at(m, "d_spectral_norm") == "1";
  a.d.scales = std::stoll(info_at(m, "d_scales"));
  a.loss = parse_gan_loss(info_at(m, "gan_loss"));
  a.weight = std::stod(info_at(m, "adv_weight"));
  a.d_ratio = std::stoll(info_at(m, "d_ratio"));
  a.d_lr = std::stod(info_at(m, "d_lr"));
  a.pool = std::stoll(info_at(m, "pool"));
  return a;
}

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
void check_finite(int64_t step, const std::map<std::string, double>& terms,
                  const std::vector<std::pair<std::string, Tensor>>& named, const char* who) {
  for (const auto& [k, v] : terms)
    SN_CHECK(std::isfinite(v), "train: ", who, " loss term '", k, "' became ", v, " at step ", step,
             " (the run stopped at its last checkpoint; lower --lr or the loss weights)");
  const std::string bad = first_nonfinite_grad(named);
  SN_CHECK(bad.empty(), "train: a non-finite gradient in ", who, " layer '", bad, "' at step ", step, " (loss ",
           terms.count("loss") ? terms.at("loss") : 0.0, "; the run stopped at its last checkpoint; lower --lr)");
}

// Whether W in a model file or checkpoint has been trained: its "w_trained" record, else (files
// written before that record) whether a stage other than the decoder's wrote it.
bool fusion_was_trained(const Metadata& m) {
  if (m.count("w_trained")) return m.at("w_trained") == "1";
  const auto stage = m.find(m.count("trained_stage") ? "trained_stage" : "stage");
  return stage == m.end() || stage->second != "decoder";
}

}  // namespace

TrainStage parse_train_stage(const std::string& name) {
  if (name == "decoder") return TrainStage::Decoder;
  if (name == "fusion") return TrainStage::Fusion;
  if (name == "joint") return TrainStage::Joint;
  throw Error("unknown training stage '" + name + "' (choose decoder, fusion or joint)");
}

std::string train_stage_name(TrainStage stage) {
  return stage == TrainStage::Decoder ? "decoder" : stage == TrainStage::Fusion ? "fusion" : "joint";
}

void request_training_stop() { g_stop.store(true); }

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
  model.save(out, stored, {{"trained_stage", info_at(ck.info, "stage")}, {"steps", std::to_string(ck.step)},
                           {"w_trained", fusion_was_trained(ck.info) ? "1" : "0"}});
  return ck.step;
}

StageLoss stage_loss(const Vgg16& encoder, const StyleModel& model, const TrainOptions& opt, const Tensor& content,
                     const Tensor& style) {
  const std::string& tap = model.config().tap;
  StageLoss out;
  if (opt.stage == TrainStage::Decoder) {
    // The taps read from photo and reconstruction: the model's tap, and the style taps for the
    // statistics term; one encoder pass over each.
    StyleLossConfig cfg = opt.loss;
    cfg.content_tap = tap;
    const std::vector<std::string> taps = opt.stats_weight != 0 ? loss_taps(cfg) : std::vector<std::string>{tap};
    std::map<std::string, Tensor> target;
    {
      NoGradGuard ng;
      target = encoder.features(content, taps);
    }
    const Tensor& c = target.at(tap);
    const Tensor y = model.decoder->forward(c);
    const Tensor pix = mse_loss(y, content);
    const auto f = encoder.features(y, taps);
    const Tensor perc = content_loss(f.at(tap), c);
    out.total = pix * opt.pixel_weight + perc * opt.perceptual_weight;
    out.terms = {{"pixel", pix.item()}, {"perceptual", perc.item()}};
    if (opt.stats_weight != 0) {  // texture statistics: the reconstruction's vs the photo's
      Tensor stats = Tensor::scalar(0.0);
      for (const auto& t : cfg.style_taps) stats = stats + mean_std_loss(f.at(t), target.at(t));
      out.total = out.total + stats * opt.stats_weight;
      out.terms["stats"] = stats.item();
    }
    if (opt.loss.weights.laplacian != 0) {  // sharpness: the reconstruction's edges vs the photo's
      const Tensor lap = laplacian_loss(y, content, opt.loss.laplacian_pool);
      out.total = out.total + lap * opt.loss.weights.laplacian;
      out.terms["laplacian"] = lap.item();
    }
    out.image = y;
  } else {
    SN_CHECK(style.defined(), "stage_loss: the ", train_stage_name(opt.stage), " stage needs style images");
    StyleLossConfig cfg = opt.loss;
    cfg.content_tap = tap;
    Tensor c;
    std::map<std::string, Tensor> sf;
    {
      NoGradGuard ng;
      c = encoder.features(content, {tap}).at(tap);
      sf = encoder.features(style, loss_taps(cfg));
    }
    const Tensor t = model.fusion->fuse(c, sf.at(tap));
    const Tensor y = model.decoder->forward(t);
    // The fused features are the content target, not something W may move to ease the decoder.
    const LossTerms lt = style_transfer_loss(encoder.features(y, loss_taps(cfg)), t.detach(), sf, y, cfg, c, content);
    out.total = lt.total;
    out.terms = {{"content", lt.content.item()}, {"style", lt.style.item()}};
    out.image = y;
    if (lt.gram.defined()) out.terms["gram"] = lt.gram.item();
    if (lt.tv.defined()) out.terms["tv"] = lt.tv.item();
    if (lt.photo.defined()) out.terms["photo"] = lt.photo.item();
    if (lt.laplacian.defined()) out.terms["laplacian"] = lt.laplacian.item();
  }
  out.terms["loss"] = out.total.item();
  return out;
}

TrainReport train_style_model(const TrainOptions& opt_in, const TrainProgress& progress) {
  TrainOptions opt = opt_in;
  SN_CHECK(!opt.run_dir.empty(), "train: no run folder given");
  const fs::path run(opt.run_dir), ckpt_path = run / "checkpoint.safetensors", log_path = run / "log.jsonl";
  SignalScope signals;

  // The run's settings: from the checkpoint when resuming (so a resume cannot drift from the run
  // it continues), else from the options.
  Checkpoint ck;
  if (opt.resume) {
    SN_CHECK(fs::exists(ckpt_path), "train: nothing to resume, '", ckpt_path.string(), "' does not exist");
    ck = load_checkpoint(ckpt_path);
    const Metadata& m = ck.info;
    opt.stage = parse_train_stage(info_at(m, "stage"));
    opt.steps = std::stoll(info_at(m, "steps"));
    opt.batch = std::stoll(info_at(m, "batch"));
    opt.crop = std::stoll(info_at(m, "crop"));
    opt.lr = std::stod(info_at(m, "lr"));
    opt.warmup = std::stoll(info_at(m, "warmup"));
    opt.seed = ck.seed;
    opt.adversarial = adversarial_from_info(m);
    if (m.count("holdout")) opt.holdout = std::stoll(m.at("holdout"));
    if (m.count("w_content")) {  // the loss weights it was started with (older checkpoints lack them)
      LossWeights& w = opt.loss.weights;
      w.content = std::stod(info_at(m, "w_content"));
      w.style = std::stod(info_at(m, "w_style"));
      w.gram = std::stod(info_at(m, "w_gram"));
      w.tv = std::stod(info_at(m, "w_tv"));
      w.photo = std::stod(info_at(m, "w_photo"));
      opt.pixel_weight = std::stod(info_at(m, "w_pixel"));
      opt.perceptual_weight = std::stod(info_at(m, "w_perceptual"));
    }
    if (m.count("w_stats")) opt.stats_weight = std::stod(m.at("w_stats"));  // added later still
    if (m.count("w_laplacian")) {  // added later than the others
      opt.loss.weights.laplacian = std::stod(m.at("w_laplacian"));
      opt.loss.laplacian_pool = std::stoll(info_at(m, "laplacian_pool"));
    }
  }
  SN_CHECK(opt.steps >= 1 && opt.batch >= 1 && opt.crop >= 32 && opt.lr > 0, "train: bad steps, batch, crop or lr");
  fs::create_directories(run / "samples");
  if (opt.content_dir.empty()) opt.content_dir = data_root() + "/data/content";
  if (opt.style_dir.empty()) opt.style_dir = data_root() + "/data/style";
  const bool decoder_stage = opt.stage == TrainStage::Decoder;
  const bool adversarial = opt.adversarial.enabled();
  SN_CHECK(!adversarial || !decoder_stage, "train: the adversarial term needs the fusion or joint stage");
  SN_CHECK(opt.adversarial.d_ratio >= 1 && opt.adversarial.weight >= 0 && opt.adversarial.d_lr > 0 &&
               opt.adversarial.pool >= 0,
           "train: bad adversarial settings (d_ratio >= 1, weight >= 0, d_lr > 0, pool >= 0)");

  const Vgg16 encoder = Vgg16::load();
  Generator init_gen(opt.seed, 11);
  StyleModel model = opt.resume ? StyleModel::from_description(ck.info, ckpt_path.string())
                     : !opt.init_model.empty() ? StyleModel::load(opt.init_model)
                                               : StyleModel(opt.model, encoder.identity().str(), &init_gen);
  opt.model = model.config();
  model.check_encoder(encoder);
  // The decoder stage never trains W, so a fusion stage that starts from a decoder stage's model
  // starts W afresh (near the identity, see StyleModel) rather than from whatever it was left at;
  // unless that decoder stage itself started from a model with a trained W (sharpening the
  // decoder of a finished model), whose W still maps into the same encoder features.
  const bool init_w_trained = !opt.init_model.empty() && fusion_was_trained(model.metadata());
  if (!opt.resume && opt.stage == TrainStage::Fusion && !opt.init_model.empty() && !init_w_trained) {
    model.fusion = StyleModel(opt.model, model.encoder_identity(), &init_gen).fusion;
  }
  // Whether the model this run writes has a trained W (what the rule above reads back).
  const bool w_trained = opt.resume ? fusion_was_trained(ck.info) : opt.stage != TrainStage::Decoder || init_w_trained;
  if (opt.resume) model.load_state_dict(ck.model);
  const std::string tap = opt.model.tap;
  opt.loss.content_tap = tap;

  // Which parts learn in this stage; the rest is frozen (gradients still flow through it).
  std::vector<Tensor> params;
  for (const Tensor& p : model.decoder->parameters()) {
    p.set_requires_grad(opt.stage != TrainStage::Fusion);
    if (opt.stage != TrainStage::Fusion) params.push_back(p);
  }
  for (const Tensor& p : model.fusion->parameters()) {
    p.set_requires_grad(!decoder_stage);
    if (!decoder_stage) params.push_back(p);
  }
  model.decoder->train();
  model.fusion->train();
  Adam adam(params, AdamOptions{.lr = opt.lr});
  // Warm-up, then cosine decay to a twentieth of the peak rate; D's optimizer follows the same shape.
  const auto schedule_for = [&](double peak) {
    return std::make_shared<LinearWarmup>(std::max<int64_t>(1, opt.warmup), 0.01,
                                          std::make_shared<CosineAnnealingLR>(opt.steps, peak / 20));
  };
  LRScheduler sched(adam, schedule_for(opt.lr));
  int64_t start = 0;
  if (opt.resume) {
    adam.load_state_dict(ck.optimizer);
    sched.load_state_dict(ck.scheduler);
    start = ck.step;
    truncate_log(log_path, start);
  } else {
    write_file_atomic(log_path, std::string());
  }

  // The discriminator, its optimizer and the pool of past outputs (adversarial runs only).
  Generator d_gen(opt.seed, 13);
  std::unique_ptr<Discriminator> disc;
  std::unique_ptr<Adam> d_adam;
  std::unique_ptr<LRScheduler> d_sched;
  ImagePool pool(opt.adversarial.pool, opt.seed);
  if (adversarial) {
    disc = std::make_unique<Discriminator>(opt.adversarial.d, &d_gen);
    disc->train();
    d_adam = std::make_unique<Adam>(disc->parameters(), AdamOptions{.lr = opt.adversarial.d_lr, .beta1 = 0.5});
    d_sched = std::make_unique<LRScheduler>(*d_adam, schedule_for(opt.adversarial.d_lr));
    SN_CHECK(Discriminator::output_size(opt.crop, opt.adversarial.d.layers, opt.adversarial.d.scales - 1) >= 1,
             "train: --crop ", opt.crop, " is too small for a discriminator of ", opt.adversarial.d.layers,
             " layers at ", opt.adversarial.d.scales, " scales");
    if (opt.resume) {
      disc->load_state_dict(ck.extra.strip_prefix("disc."));
      d_adam->load_state_dict(ck.extra.strip_prefix("disc_optim."));
      d_sched->load_state_dict(ck.extra.strip_prefix("disc_sched."));
      pool.load_state_dict(ck.extra.strip_prefix("pool."));
    }
  }
  std::vector<std::pair<std::string, Tensor>> named_g;
  for (const auto& [n, p] : model.decoder->named_parameters()) named_g.emplace_back("decoder." + n, p);
  for (const auto& [n, p] : model.fusion->named_parameters()) named_g.emplace_back("fusion." + n, p);

  LoaderOptions lo;
  lo.crop = opt.crop;
  lo.batch = opt.batch;
  lo.seed = opt.seed;
  lo.stream = 1;
  // The training part of each folder (holdout_split), then at most max_images of it.
  auto files = [&](const std::string& dir) { return evenly_spaced(holdout_split(list_images(dir), opt.holdout, false), opt.max_images); };
  ImageLoader content(files(opt.content_dir), lo);
  std::unique_ptr<ImageLoader> style;
  if (!decoder_stage) {
    lo.stream = 2;
    style = std::make_unique<ImageLoader>(files(opt.style_dir), lo);
  }
  std::unique_ptr<ImageLoader> real;
  if (adversarial) {
    lo.stream = 3;
    real = std::make_unique<ImageLoader>(holdout_split(list_images(opt.adversarial.real_dir), opt.holdout, false), lo);
  }

  auto save_ck = [&](int64_t step) {
    Checkpoint c;
    c.model = model.state_dict();
    c.optimizer = adam.state_dict();
    c.scheduler = sched.state_dict();
    c.step = step;
    c.seed = opt.seed;
    c.info = model.describe();  // shape and encoder, as a model file records them
    c.info.insert({{"stage", train_stage_name(opt.stage)}, {"steps", std::to_string(opt.steps)},
                   {"batch", std::to_string(opt.batch)}, {"crop", std::to_string(opt.crop)}, {"lr", fmt(opt.lr)},
                   {"warmup", std::to_string(opt.warmup)}, {"holdout", std::to_string(opt.holdout)},
                   {"w_trained", w_trained ? "1" : "0"}});
    const LossWeights& w = opt.loss.weights;
    c.info.insert({{"w_content", fmt(w.content)}, {"w_style", fmt(w.style)}, {"w_gram", fmt(w.gram)},
                   {"w_tv", fmt(w.tv)}, {"w_photo", fmt(w.photo)}, {"w_pixel", fmt(opt.pixel_weight)},
                   {"w_perceptual", fmt(opt.perceptual_weight)}, {"w_laplacian", fmt(w.laplacian)},
                   {"laplacian_pool", std::to_string(opt.loss.laplacian_pool)}, {"w_stats", fmt(opt.stats_weight)}});
    if (adversarial) {
      c.info.merge(adversarial_info(opt.adversarial));
      for (const auto& [k, v] : disc->state_dict().add_prefix("disc.")) c.extra.insert(k, v);
      for (const auto& [k, v] : d_adam->state_dict().add_prefix("disc_optim.")) c.extra.insert(k, v);
      for (const auto& [k, v] : d_sched->state_dict().add_prefix("disc_sched.")) c.extra.insert(k, v);
      for (const auto& [k, v] : pool.state_dict().add_prefix("pool.")) c.extra.insert(k, v);
    }
    save_checkpoint(ckpt_path, c);
  };
  auto write_samples = [&](int64_t step) {
    NoGradGuard ng;
    model.decoder->eval();
    model.fusion->eval();
    std::vector<Tensor> cells;
    const auto contents = sample_images("content_"), styles = sample_images("style_");
    const size_t nc = std::min<size_t>(3, contents.size()), ns = decoder_stage ? 0 : std::min<size_t>(3, styles.size());
    std::vector<Tensor> style_imgs;
    for (size_t j = 0; j < ns; ++j) style_imgs.push_back(resize_image(load_image(styles[j]), 2 * opt.crop, 2 * opt.crop));
    if (ns) {
      cells.push_back(Tensor::ones({1, 3, 2 * opt.crop, 2 * opt.crop}));
      cells.insert(cells.end(), style_imgs.begin(), style_imgs.end());
    }
    for (size_t i = 0; i < nc; ++i) {
      const Tensor c = resize_image(load_image(contents[i]), 2 * opt.crop, 2 * opt.crop);
      cells.push_back(c);
      if (decoder_stage) {
        cells.push_back(clamp(model.decoder->forward(encoder.features(c, {tap}).at(tap)), 0.0, 1.0));
      } else {
        for (const Tensor& s : style_imgs) cells.push_back(stylize(encoder, model, c, {{s, 1.0}}, {}));
      }
    }
    const std::string name = "step_" + std::to_string(step) + ".png";
    save_image(image_grid(cells, decoder_stage ? 2 : static_cast<int64_t>(ns) + 1), (run / "samples" / name).string());
    model.decoder->train();
    model.fusion->train();
  };

  TrainReport report;
  report.first_step = start + 1;
  report.last_step = start;
  std::ofstream log(log_path, std::ios::app);
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t step = start + 1; step <= opt.steps; ++step) {
    const Tensor x = content.batch(step);
    const StageLoss sl = stage_loss(encoder, model, opt, x, decoder_stage ? Tensor() : style->batch(step));
    Tensor loss = sl.total;
    std::map<std::string, double> terms = sl.terms;
    if (adversarial) {  // the generator's side: D (frozen for this step) should call its outputs real
      for (const Tensor& p : disc->parameters()) p.set_requires_grad(false);
      const Tensor g = generator_loss(opt.adversarial.loss, disc->forward_scales(sl.image));
      loss = loss + g * opt.adversarial.weight;
      terms["adv_g"] = g.item();
      terms["loss"] = loss.item();
    }
    const double lr = sched.last_lr()[0];
    adam.zero_grad();
    backward(loss);
    check_finite(step, terms, named_g, "generator");
    adam.step();
    sched.step();
    if (adversarial) {  // D's side: artwork crops are real, outputs (through the pool) fake
      for (const Tensor& p : disc->parameters()) p.set_requires_grad(true);
      const Tensor fake = pool.query(sl.image.detach(), step);
      double d_loss = 0;
      DiscriminatorAccuracy acc;
      for (int64_t i = 0; i < opt.adversarial.d_ratio; ++i) {
        const std::vector<Tensor> r = disc->forward_scales(real->batch((step - 1) * opt.adversarial.d_ratio + i + 1));
        const std::vector<Tensor> f = disc->forward_scales(fake);
        const Tensor dl = discriminator_loss(opt.adversarial.loss, r, f);
        d_adam->zero_grad();
        backward(dl);
        d_loss = dl.item();
        check_finite(step, {{"adv_d", d_loss}}, disc->named_parameters(), "discriminator");
        d_adam->step();
        acc = discriminator_accuracy(opt.adversarial.loss, r, f);
      }
      d_sched->step();
      terms["adv_d"] = d_loss;
      terms["d_acc_real"] = acc.real;
      terms["d_acc_fake"] = acc.fake;
    }

    std::ostringstream line;
    line << "{\"step\":" << step << ",\"lr\":" << fmt(lr);
    for (const auto& [k, v] : terms) line << ",\"" << k << "\":" << fmt(v);
    line << ",\"time\":" << fmt(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()) << "}\n";
    log << line.str() << std::flush;
    for (const auto& [k, v] : terms) report.losses[k].push_back(v);
    report.last_step = step;
    if (progress) progress(step, opt.steps, terms);

    const bool stop = g_stop.load();
    if (stop || step % opt.checkpoint_every == 0 || step == opt.steps) save_ck(step);
    if (!stop && ((opt.sample_every > 0 && step % opt.sample_every == 0) || step == opt.steps)) write_samples(step);
    if (stop) {
      report.interrupted = true;
      break;
    }
  }
  log.close();

  // The loss plot covers the whole run, resumed parts included.
  std::vector<PlotSeries> series;
  for (auto& [name, values] : read_log(log_path)) {
    PlotSeries s{name, std::move(values), {0, 0, 0}};
    palette_colour(series.size(), s.rgb);
    series.push_back(std::move(s));
  }
  save_image(plot_series(series), (run / "loss.png").string());
  if (!report.interrupted) model.save(run / "model.safetensors", StoredDType::Native,
                                      {{"trained_stage", train_stage_name(opt.stage)}, {"steps", std::to_string(opt.steps)},
                                       {"w_trained", w_trained ? "1" : "0"}});
  return report;
}

}  // namespace sn
