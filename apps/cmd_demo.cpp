// `stylenet demo`: trains the tiny denoiser and writes its before/after sheet.
#include <cstdio>

#include "apps/args.h"
#include "apps/command.h"
#include "apps/progress.h"
#include "apps/demo.h"

namespace sn::cli {

namespace {

int run(const std::vector<std::string>& argv) {
  const Args args(argv, {"steps", "batch", "crop", "lr", "seed", "out", "checkpoint", "images"}, {"quiet"});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "'");
  DemoOptions opt;
  opt.steps = args.get_int("steps", opt.steps, 1, 1000000);
  opt.batch = args.get_int("batch", opt.batch, 1, 1024);
  opt.crop = args.get_int("crop", opt.crop, 8, 1024);
  opt.train_images = args.get_int("images", opt.train_images, 1, 100000);
  opt.lr = args.get_double("lr", opt.lr, 1e-8, 10.0);
  opt.seed = static_cast<uint64_t>(args.get_int("seed", 1, 0, INT64_MAX));
  opt.out = args.get("out", "demo.png");
  opt.checkpoint = args.get("checkpoint", "");
  const bool quiet = args.flag("quiet");
  check_output_path(opt.out, {".png", ".jpg", ".jpeg"});
  if (!opt.checkpoint.empty()) check_output_path(opt.checkpoint, {".safetensors"});

  ProgressLine line("demo", opt.steps, quiet);
  const DemoResult r = run_denoise_demo(opt, [&](int64_t step, double loss) { line.update(step, "loss " + std::to_string(loss)); });
  std::printf("training loss: %.5f -> %.5f over %lld steps\n", r.losses.front(), r.losses.back(),
              static_cast<long long>(r.losses.size()));
  std::printf("sample photos, MSE to clean: noisy %.5f, denoised %.5f\n", r.eval_noisy_mse, r.eval_denoised_mse);
  std::printf("wrote %s\n", opt.out.c_str());
  return 0;
}

}  // namespace

extern const Command kDemoCommand = {
    "demo", "train a tiny denoising conv net on the shared photos and write a before/after sheet",
    "usage: stylenet demo [--out demo.png] [--steps 300] [--batch 8] [--crop 48] [--images 64]\n"
    "                     [--lr 0.002] [--seed 1] [--checkpoint model.safetensors] [--quiet]\n"
    "Trains on random crops of $STYLENET_DATA/data/content (default ../shared), then denoises the\n"
    "six sample photos and writes noisy | denoised | clean rows to --out (PNG or JPEG).\n",
    run};

}  // namespace sn::cli
