// The engine's end-to-end demo: a tiny residual conv net learns to remove noise from photo
// crops (../shared/data/content), then cleans the sample photos and writes a before/after sheet.
// It exercises data loading, Conv2d/ReLU, Adam with a schedule, checkpoints and image output.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace sn {

struct DemoOptions {
  int64_t steps = 300;
  int64_t batch = 8;
  int64_t crop = 48;
  int64_t train_images = 64;   // photos held in memory for cropping
  double noise_std = 0.1;      // Gaussian noise added to inputs (images in [0, 1])
  double lr = 2e-3;
  uint64_t seed = 1;
  std::string out;             // contact sheet PNG (noisy | denoised | clean); empty = none
  std::string checkpoint;      // final model as safetensors; empty = none
  int64_t sheet_size = 192;    // short side of the sample photos on the sheet
};

struct DemoResult {
  std::vector<double> losses;       // training MSE per step
  double eval_noisy_mse = 0.0;      // held-out sample photos: noisy vs clean
  double eval_denoised_mse = 0.0;   // held-out sample photos: model output vs clean
};

// `progress(step, loss)` is called after every step when set.
DemoResult run_denoise_demo(const DemoOptions& opt,
                            const std::function<void(int64_t, double)>& progress = nullptr);

}  // namespace sn
