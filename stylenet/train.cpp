#include "stylenet/train.h"

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
#include "stylenet/data.h"
#include "stylenet/image.h"
#include "stylenet/loader.h"
#include "stylenet/plot.h"
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

// Evenly spaced subset, so every source prefix of the sorted list is represented.
std::vector<std::string> pick(std::vector<std::string> files, int64_t max) {
  if (max <= 0 || static_cast<int64_t>(files.size()) <= max) return files;
  std::vector<std::string> out;
  for (int64_t i = 0; i < max; ++i) out.push_back(files[i * files.size() / max]);
  return out;
}

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

int64_t export_model(const std::string& run_dir, const std::string& out, StoredDType stored) {
  const fs::path ckpt_path = fs::path(run_dir) / "checkpoint.safetensors";
  SN_CHECK(fs::exists(ckpt_path), "export: '", ckpt_path.string(), "' does not exist");
  const Checkpoint ck = load_checkpoint(ckpt_path);
  StyleModel model = StyleModel::from_description(ck.info, ckpt_path.string());
  model.load_state_dict(ck.model);
  model.save(out, stored, {{"trained_stage", info_at(ck.info, "stage")}, {"steps", std::to_string(ck.step)}});
  return ck.step;
}

StageLoss stage_loss(const Vgg16& encoder, const StyleModel& model, const TrainOptions& opt, const Tensor& content,
                     const Tensor& style) {
  const std::string& tap = model.config().tap;
  StageLoss out;
  if (opt.stage == TrainStage::Decoder) {
    Tensor c;
    {
      NoGradGuard ng;
      c = encoder.features(content, {tap}).at(tap);
    }
    const Tensor y = model.decoder->forward(c);
    const Tensor pix = mse_loss(y, content);
    const Tensor perc = content_loss(encoder.features(y, {tap}).at(tap), c);
    out.total = pix * opt.pixel_weight + perc * opt.perceptual_weight;
    out.terms = {{"pixel", pix.item()}, {"perceptual", perc.item()}};
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
    const LossTerms lt = style_transfer_loss(encoder.features(y, loss_taps(cfg)), t.detach(), sf, y, cfg);
    out.total = lt.total;
    out.terms = {{"content", lt.content.item()}, {"style", lt.style.item()}};
    if (lt.gram.defined()) out.terms["gram"] = lt.gram.item();
    if (lt.tv.defined()) out.terms["tv"] = lt.tv.item();
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
  }
  SN_CHECK(opt.steps >= 1 && opt.batch >= 1 && opt.crop >= 32 && opt.lr > 0, "train: bad steps, batch, crop or lr");
  fs::create_directories(run / "samples");
  if (opt.content_dir.empty()) opt.content_dir = data_root() + "/data/content";
  if (opt.style_dir.empty()) opt.style_dir = data_root() + "/data/style";
  const bool decoder_stage = opt.stage == TrainStage::Decoder;

  const Vgg16 encoder = Vgg16::load();
  Generator init_gen(opt.seed, 11);
  StyleModel model = opt.resume ? StyleModel::from_description(ck.info, ckpt_path.string())
                     : !opt.init_model.empty() ? StyleModel::load(opt.init_model)
                                               : StyleModel(opt.model, encoder.identity().str(), &init_gen);
  opt.model = model.config();
  model.check_encoder(encoder);
  // The decoder stage never trains W, so a fusion stage that starts from its model starts W
  // afresh (near the identity, see StyleModel) rather than from whatever it was left at.
  if (!opt.resume && opt.stage == TrainStage::Fusion && !opt.init_model.empty() &&
      model.metadata().count("trained_stage") && model.metadata().at("trained_stage") == "decoder") {
    model.fusion = StyleModel(opt.model, model.encoder_identity(), &init_gen).fusion;
  }
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
  LRScheduler sched(adam, std::make_shared<LinearWarmup>(std::max<int64_t>(1, opt.warmup), 0.01,
                                                         std::make_shared<CosineAnnealingLR>(opt.steps, opt.lr / 20)));
  int64_t start = 0;
  if (opt.resume) {
    adam.load_state_dict(ck.optimizer);
    sched.load_state_dict(ck.scheduler);
    start = ck.step;
    truncate_log(log_path, start);
  } else {
    write_file_atomic(log_path, std::string());
  }

  LoaderOptions lo;
  lo.crop = opt.crop;
  lo.batch = opt.batch;
  lo.seed = opt.seed;
  lo.stream = 1;
  ImageLoader content(pick(list_images(opt.content_dir), opt.max_images), lo);
  std::unique_ptr<ImageLoader> style;
  if (!decoder_stage) {
    lo.stream = 2;
    style = std::make_unique<ImageLoader>(pick(list_images(opt.style_dir), opt.max_images), lo);
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
                   {"warmup", std::to_string(opt.warmup)}});
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
    const Tensor& loss = sl.total;
    std::map<std::string, double> terms = sl.terms;
    const double lr = sched.last_lr()[0];
    adam.zero_grad();
    backward(loss);
    adam.step();
    sched.step();
    SN_CHECK(std::isfinite(terms["loss"]), "train: the loss became ", terms["loss"], " at step ", step,
             " (lower --lr; the last checkpoint is kept)");

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
                                      {{"trained_stage", train_stage_name(opt.stage)}, {"steps", std::to_string(opt.steps)}});
  return report;
}

}  // namespace sn
