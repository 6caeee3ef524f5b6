// What the style-transfer tests share: the stand-in encoder (built once per process), the shared
// sample images, a tiny training run and held-out batches.
#pragma once
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "training/train.h"
#include "vision/data.h"
#include "vision/image.h"
#include "vision/loader.h"

namespace sn::test {

inline const Vgg16& standin_encoder() {
  static const Vgg16 vgg = Vgg16::standin();
  return vgg;
}

// The path of the index-th shared sample whose name starts with `prefix` ("content_", "style_").
inline std::string sample_path(const std::string& prefix, size_t index = 0) {
  const auto files = sample_images(prefix);
  REQUIRE(files.size() > index);
  return files[index];
}

// That sample resized to height x width.
inline Tensor sample_image(const std::string& prefix, size_t index, int64_t height, int64_t width) {
  return resize_image(load_image(sample_path(prefix, index)), height, width);
}

// A run of a few steps on 32 px crops of 6 images with a small model, checkpoints every 3 steps.
inline TrainOptions tiny_run(const std::filesystem::path& dir, TrainStage stage, int64_t steps) {
  TrainOptions o;
  o.run_dir = dir.string();
  o.stage = stage;
  o.steps = steps;
  o.batch = 2;
  o.crop = 32;
  o.max_images = 6;
  o.warmup = 2;
  o.lr = 2e-3;
  o.checkpoint_every = 3;
  o.sample_every = 0;
  o.model.decoder_width = 0.125;
  o.model.k = 8;
  o.seed = 5;
  return o;
}

// A fixed batch of 32 px crops from a shared data folder, at a step number training never
// reaches: held out from every training run of the tests.
inline Tensor held_out_batch(const std::string& folder, uint64_t seed, uint64_t stream = 0) {
  LoaderOptions lo;
  lo.crop = 32;
  lo.batch = 4;
  lo.seed = seed;
  lo.stream = stream;
  return ImageLoader(list_images(data_root() + "/data/" + folder), lo).make_batch(1000000);
}

}  // namespace sn::test
