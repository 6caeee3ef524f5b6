// A real training run: the tiny denoising conv net of `stylenet demo` learns on random crops of
// the photos in $STYLENET_DATA/data/content. Its loss must fall far below where it started, the
// held-out sample photos must come out cleaner than they went in, and a fixed seed must give the
// same run bit for bit.
#include <doctest/doctest.h>

#include <numeric>

#include "apps/demo.h"

using namespace sn;

namespace {

double mean_of(const std::vector<double>& v, size_t from, size_t to) {
  return std::accumulate(v.begin() + from, v.begin() + to, 0.0) / static_cast<double>(to - from);
}

DemoOptions small_run(uint64_t seed) {
  DemoOptions opt;
  opt.steps = 120;
  opt.batch = 4;
  opt.crop = 32;
  opt.train_images = 16;
  opt.sheet_size = 64;
  opt.noise_std = 0.2;  // strong noise: most of it is learnable, so the loss can fall far
  opt.seed = seed;
  return opt;
}

}  // namespace

TEST_CASE("training a small conv net on photo crops lowers its loss, deterministically") {
  const DemoResult a = run_denoise_demo(small_run(3));
  REQUIRE(a.losses.size() == 120);
  const double start = mean_of(a.losses, 0, 5), end = mean_of(a.losses, 100, 120);
  INFO("loss: first 5 steps ", start, ", last 20 steps ", end);
  // The residual net starts as the identity plus noise of its own, so its loss starts at the
  // input noise power (0.2^2 = 0.04) or above; learning must remove most of that.
  CHECK(start >= 0.036);
  CHECK(end < 0.35 * start);
  // On photos it never saw, the output is closer to the clean image than the noisy input was.
  INFO("held-out MSE: noisy ", a.eval_noisy_mse, ", denoised ", a.eval_denoised_mse);
  CHECK(a.eval_denoised_mse < 0.7 * a.eval_noisy_mse);

  const DemoResult b = run_denoise_demo(small_run(3));
  CHECK(b.losses == a.losses);  // same seed (and thread count): the same run, bit for bit
  CHECK(b.eval_denoised_mse == a.eval_denoised_mse);

  DemoOptions other = small_run(4);
  other.steps = 5;
  const DemoResult c = run_denoise_demo(other);
  CHECK(c.losses[0] != a.losses[0]);  // the seed drives init, crops and noise
}
