#include "apps/demo.h"

#include <algorithm>
#include <filesystem>

#include "layers/layers.h"
#include "optim/optim.h"
#include "vision/data.h"
#include "vision/image.h"
#include "vision/loader.h"
#include "weights/checkpoint.h"

namespace sn {

namespace {

// Three 3x3 convolutions with reflection padding (no border artefacts), predicting the noise
// residual: output = input + net(input). Small enough to train on a CPU in a minute.
std::shared_ptr<Sequential> make_denoiser(Generator& gen) {
  auto net = std::make_shared<Sequential>();
  const int64_t width = 16;
  net->push_back(std::make_shared<ReflectionPad2d>(1));
  net->push_back(std::make_shared<Conv2d>(3, width, 3, Conv2dConfig{}, &gen));
  net->push_back(std::make_shared<ReLU>());
  net->push_back(std::make_shared<ReflectionPad2d>(1));
  net->push_back(std::make_shared<Conv2d>(width, width, 3, Conv2dConfig{}, &gen));
  net->push_back(std::make_shared<ReLU>());
  net->push_back(std::make_shared<ReflectionPad2d>(1));
  net->push_back(std::make_shared<Conv2d>(width, 3, 3, Conv2dConfig{}, &gen));
  return net;
}

Tensor add_noise(const Tensor& clean, double std, Generator& gen) {
  return clean + Tensor::randn(clean.shape(), gen) * std;
}

// Centre square crop of side min(h, w), for a tidy sheet.
Tensor centre_square(const Tensor& img) {
  const int64_t h = img.shape()[2], w = img.shape()[3], s = std::min(h, w);
  return slice(slice(img, 2, (h - s) / 2, (h - s) / 2 + s), 3, (w - s) / 2, (w - s) / 2 + s).contiguous();
}

}  // namespace

DemoResult run_denoise_demo(const DemoOptions& opt, const std::function<void(int64_t, double)>& progress) {
  const std::string root = data_root();
  LoaderOptions lo;
  lo.crop = opt.crop;
  lo.batch = opt.batch;
  lo.seed = opt.seed;
  lo.max_zoom_out = 4.0;  // crops of the photos at up to 4x the crop side: fine detail and noise alike
  ImageLoader loader(evenly_spaced(list_images(root + "/data/content"), opt.train_images), lo);
  Generator gen(opt.seed, /*stream=*/7);
  auto net = make_denoiser(gen);
  auto model = [&](const Tensor& noisy) { return noisy + net->forward(noisy); };

  Adam adam(net->parameters(), AdamOptions{.lr = opt.lr});
  LRScheduler sched(adam, std::make_shared<LinearWarmup>(
                              std::max<int64_t>(1, opt.steps / 20), 0.1,
                              std::make_shared<CosineAnnealingLR>(opt.steps, opt.lr * 0.05)));
  DemoResult result;
  for (int64_t step = 1; step <= opt.steps; ++step) {
    const Tensor clean = loader.batch(step);
    const Tensor loss = mse_loss(model(add_noise(clean, opt.noise_std, gen)), clean);
    adam.zero_grad();
    backward(loss);
    adam.step();
    sched.step();
    result.losses.push_back(loss.item());
    if (progress) progress(step, result.losses.back());
  }

  // Held-out evaluation on the six sample photos (never used for training).
  NoGradGuard no_grad;
  net->eval();
  Generator eval_gen(opt.seed + 1000);
  std::vector<Tensor> sheet;
  double noisy_sum = 0, denoised_sum = 0;
  const std::vector<std::string> samples = sample_images("content_");
  for (const std::string& f : samples) {
    const Tensor clean = centre_square(resize_short_side(load_image(f), opt.sheet_size));
    const Tensor noisy = add_noise(clean, opt.noise_std, eval_gen);
    const Tensor denoised = clamp(model(noisy), 0.0, 1.0);
    noisy_sum += mse_loss(noisy, clean).item();
    denoised_sum += mse_loss(denoised, clean).item();
    sheet.insert(sheet.end(), {clamp(noisy, 0.0, 1.0), denoised, clean});
  }
  result.eval_noisy_mse = noisy_sum / samples.size();
  result.eval_denoised_mse = denoised_sum / samples.size();
  if (!opt.out.empty()) save_image(image_grid(sheet, 3), opt.out);
  if (!opt.checkpoint.empty()) {
    Checkpoint ck;
    ck.model = net->state_dict();
    ck.optimizer = adam.state_dict();
    ck.step = opt.steps;
    ck.seed = opt.seed;
    ck.info["model"] = "denoise-demo";
    save_checkpoint(opt.checkpoint, ck);
  }
  return result;
}

}  // namespace sn
