// `stylenet train`: trains the decoder, the learned fusion, or both, on content and style folders.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "apps/args.h"
#include "apps/command.h"
#include "training/train.h"

namespace sn::cli {

namespace {

std::string clock_str(double seconds) {
  const long s = static_cast<long>(seconds);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  return buf;
}

int run(const std::vector<std::string>& argv) {
  const Args args(argv,
                  {"stage", "run", "content", "style", "init", "steps", "batch", "crop", "lr", "warmup", "seed",
                   "checkpoint-every", "sample-every", "max-images", "tap", "decoder-width", "k", "content-weight",
                   "style-weight", "gram-weight", "tv-weight", "photo-weight", "pixel-weight", "perceptual-weight", "stats-weight", "laplacian-weight", "laplacian-pool", "threads", "export",
                   "collection", "holdout", "adversarial", "gan-loss", "adv-weight", "d-ratio", "d-lr", "d-base", "d-layers", "d-scales", "pool"},
                  {"resume", "quiet", "half", "spectral-norm"});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "'");
  apply_threads(args);
  if (args.has("export")) {  // no training: write the model of the run's last checkpoint
    const std::string out = args.get("export", "");
    check_output_path(out, {".safetensors"});
    const std::string collection = args.get("collection", "");
    if (args.has("collection") && !std::filesystem::is_directory(collection))
      throw Error("--collection: '" + collection + "' is not a folder of artworks");
    const int64_t step = export_model(args.require("run"), out, args.flag("half") ? StoredDType::F16 : StoredDType::Native,
                                      collection);
    std::printf("exported the model at step %lld to %s\n", static_cast<long long>(step), out.c_str());
    return 0;
  }
  TrainOptions o;
  o.run_dir = args.require("run");
  o.resume = args.flag("resume");
  try {
    o.stage = parse_train_stage(args.get("stage", "decoder"));
  } catch (const std::exception& e) {
    throw UsageError(std::string("--stage: ") + e.what());
  }
  o.content_dir = args.get("content", "");
  o.style_dir = args.get("style", "");
  o.init_model = args.get("init", "");
  o.steps = args.get_int("steps", o.steps, 1, 10000000);
  o.batch = args.get_int("batch", o.batch, 1, 1024);
  o.crop = args.get_int("crop", o.crop, 32, 2048);
  o.lr = args.get_double("lr", o.lr, 1e-9, 1.0);
  o.warmup = args.get_int("warmup", o.warmup, 0, 10000000);
  o.seed = static_cast<uint64_t>(args.get_int("seed", 1, 0, INT64_MAX));
  o.checkpoint_every = args.get_int("checkpoint-every", o.checkpoint_every, 1, 10000000);
  o.sample_every = args.get_int("sample-every", o.sample_every, 0, 10000000);
  o.max_images = args.get_int("max-images", 0, 0, 10000000);
  o.holdout = args.get_int("holdout", 0, 0, 1000);
  o.model.tap = args.get("tap", o.model.tap);
  if (o.model.tap != "relu3_1" && o.model.tap != "relu4_1") throw UsageError("--tap must be relu3_1 or relu4_1");
  o.model.decoder_width = args.get_double("decoder-width", o.model.decoder_width, 0.05, 4.0);
  o.model.k = args.get_int("k", o.model.k, 1, 512);
  LossWeights& w = o.loss.weights;
  w.content = args.get_double("content-weight", w.content, 0, 1e9);
  w.style = args.get_double("style-weight", w.style, 0, 1e9);
  w.gram = args.get_double("gram-weight", w.gram, 0, 1e9);
  w.tv = args.get_double("tv-weight", w.tv, 0, 1e9);
  w.photo = args.get_double("photo-weight", w.photo, 0, 1e9);
  w.laplacian = args.get_double("laplacian-weight", w.laplacian, 0, 1e9);
  o.loss.laplacian_pool = args.get_int("laplacian-pool", o.loss.laplacian_pool, 1, 16);
  o.pixel_weight = args.get_double("pixel-weight", o.pixel_weight, 0, 1e9);
  o.perceptual_weight = args.get_double("perceptual-weight", o.perceptual_weight, 0, 1e9);
  o.stats_weight = args.get_double("stats-weight", o.stats_weight, 0, 1e9);
  if (args.has("stats-weight") && o.stage != TrainStage::Decoder)
    throw UsageError("--stats-weight applies only to --stage decoder");
  AdversarialOptions& a = o.adversarial;
  a.real_dir = args.get("adversarial", "");
  if (args.has("adversarial") && !std::filesystem::is_directory(a.real_dir))
    throw Error("--adversarial: '" + a.real_dir + "' is not a folder of artworks");
  try {
    a.loss = parse_gan_loss(args.get("gan-loss", gan_loss_name(a.loss)));
  } catch (const std::exception& e) {
    throw UsageError(std::string("--gan-loss: ") + e.what());
  }
  a.weight = args.get_double("adv-weight", a.weight, 0, 1e6);
  a.d_ratio = args.get_int("d-ratio", a.d_ratio, 1, 100);
  a.d_lr = args.get_double("d-lr", a.d_lr, 1e-9, 1.0);
  a.d.base = args.get_int("d-base", a.d.base, 1, 1024);
  a.d.layers = args.get_int("d-layers", a.d.layers, 1, 6);
  a.d.scales = args.get_int("d-scales", a.d.scales, 1, 4);
  a.d.spectral_norm = args.flag("spectral-norm");
  a.pool = args.get_int("pool", a.pool, 0, 100000);
  const bool adv_flags = args.has("adversarial") || args.has("gan-loss") || args.has("adv-weight") ||
                         args.has("d-ratio") || args.has("d-lr") || args.has("d-base") || args.has("d-layers") ||
                         args.has("d-scales") || args.has("pool") || args.flag("spectral-norm");
  if (!args.has("adversarial") && adv_flags && !o.resume)
    throw UsageError("the discriminator options need --adversarial DIR");
  if (o.resume && (args.has("stage") || args.has("steps") || args.has("init") || adv_flags))
    throw UsageError("--resume continues the run exactly as it was set up; drop --stage, --steps, --init and the "
                     "adversarial options");
  if (!o.init_model.empty() && !std::filesystem::exists(o.init_model))
    throw Error("--init: model '" + o.init_model + "' does not exist");
  const bool quiet = args.flag("quiet");

  const auto t0 = std::chrono::steady_clock::now();
  int64_t first = -1;
  auto progress = [&](int64_t step, int64_t total, const std::map<std::string, double>& terms) {
    if (quiet) return;
    if (first < 0) first = step;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double rate = (step - first + 1) / std::max(secs, 1e-9);
    std::fprintf(stderr, "\r[%lld/%lld] %.2f steps/s ETA %s", static_cast<long long>(step),
                 static_cast<long long>(total), rate, clock_str((total - step) / rate).c_str());
    for (const auto& [k, v] : terms) std::fprintf(stderr, "  %s %.4g", k.c_str(), v);
    std::fprintf(stderr, "   ");
    if (step == total) std::fprintf(stderr, "\n");
  };
  const TrainReport r = train_style_model(o, progress);
  if (r.interrupted) {
    std::fprintf(stderr, "\ninterrupted: checkpoint saved at step %lld; continue with --run %s --resume\n",
                 static_cast<long long>(r.last_step), o.run_dir.c_str());
    return 130;
  }
  std::printf("trained %s stage to step %lld; model: %s/model.safetensors\n", train_stage_name(o.stage).c_str(),
              static_cast<long long>(r.last_step), o.run_dir.c_str());
  return 0;
}

}  // namespace

extern const Command kTrainCommand = {
    "train", "train the style model (decoder, fusion or joint stage)",
    [] {
      return std::string(
          "usage: stylenet train --run DIR [--stage decoder|fusion|joint] [options]\n"
          "       stylenet train --run DIR --resume\n"
          "  --run DIR             run folder: checkpoint, log.jsonl, loss.png, samples/, model.safetensors\n"
          "  --stage S             decoder (G inverts the encoder), fusion (W learns; F, G frozen), joint\n"
          "  --init M              start from a model file (e.g. the decoder stage's model.safetensors)\n"
          "  --content D --style D image folders (default $STYLENET_DATA/data/content and data/style)\n"
          "  --steps N --batch N --crop N --lr X --warmup N --seed N   (1000, 4, 128, 1e-3, 50, 1)\n"
          "  --checkpoint-every N --sample-every N                      (100, 200)\n"
          "  --max-images N        use at most N images of each folder (evenly spaced)\n"
          "  --holdout N           leave every N-th image of each folder out (for `stylenet judge`)\n"
          "  --tap relu3_1|relu4_1 --decoder-width X --k N              model shape (fresh runs)\n"
          "  --content-weight --style-weight --gram-weight --tv-weight  fusion/joint loss weights (1, 10, 0, 0)\n"
          "  --photo-weight X      content loss to the photo itself (keeps its structure; default 0)\n"
          "  --pixel-weight --perceptual-weight --stats-weight         decoder-stage weights (1, 1, 0);\n"
          "                        stats: mean/std loss of the reconstruction vs the photo at the style taps\n"
          "  --laplacian-weight X --laplacian-pool P   Laplacian (edge) loss to the photo, every stage,\n"
          "                        after a P x P average pool (0, 2; P 1 for a sharp decoder)\n"
          "  --adversarial DIR     add a PatchGAN discriminator trained on the artworks in DIR (fusion/joint)\n"
          "  --gan-loss lsgan|hinge --adv-weight X --d-ratio N --d-lr X  (lsgan, 0.1, 1, 2e-4;\n"
          "                        D's peak rate: it follows the same warm-up and cosine decay)\n"
          "  --d-base N --d-layers N --d-scales N --spectral-norm --pool N  discriminator (32, 3, 1, off, 50)\n"
          "  --threads N           CPU threads (results are reproducible for a fixed thread count)\n"
          "       stylenet train --run DIR --export OUT.safetensors [--half] [--collection DIR]\n"
          "                        the model at the last checkpoint; --collection builds in the average style\n"
          "                        of the artworks in DIR (then `stylize --model OUT` needs no --style)\n"
          "Ctrl-C finishes the step, saves a checkpoint and exits; --resume continues bit-identically.\n");
    },
    run};

}  // namespace sn::cli
