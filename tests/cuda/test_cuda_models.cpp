// Whole models on the GPU against the CPU: VGG16's taps and the gradient of a feature loss, 20
// Adam steps of a small decoder-like conv net (reflection padding, instance norm, upsampling), a
// short run of the style model's decoder stage, and determinism: the same seed gives bit-identical
// losses on two GPU runs.
#include <memory>

#include "autograd/nn_ops.h"
#include "layers/layers.h"
#include "optim/adam.h"
#include "optim/clip_grad.h"
#include "stylenet/style_model.h"
#include "tensor/random.h"
#include "weights/atomic_file.h"
#include "tests/cuda/cuda_compare.h"
#include "tests/style_fixtures.h"
#include "tests/temp_dir.h"
#include "vision/vgg16.h"

using namespace sn;
using namespace sn::cuda_test;

namespace {

// A small decoder block as the style models use them, built from a fixed seed.
std::shared_ptr<Sequential> small_net() {
  Generator gen(5);
  return make_sequential({std::make_shared<ReflectionPad2d>(1), std::make_shared<Conv2d>(3, 8, 3, Conv2dConfig{}, &gen),
                          std::make_shared<InstanceNorm2d>(8, 1e-5, true), std::make_shared<ReLU>(),
                          Upsample::scale(2),
                          std::make_shared<ReflectionPad2d>(1), std::make_shared<Conv2d>(8, 3, 3, Conv2dConfig{}, &gen)});
}

// Losses of `steps` Adam steps fitting the net's output to a fixed target, on `device`.
std::vector<double> adam_losses(Device device, int steps) {
  auto net = small_net();
  net->to(device);
  Generator gen(8);
  const Tensor x = Tensor::randn({2, 3, 12, 10}, gen, DType::Float32, device);
  const Tensor target = Tensor::randn({2, 3, 24, 20}, gen, DType::Float32, device);
  Adam adam(net->parameters(), AdamOptions{1e-2});
  std::vector<double> losses;
  for (int i = 0; i < steps; ++i) {
    adam.zero_grad();
    const Tensor loss = mse_loss(net->forward(x), target);
    backward(loss);
    adam.step();
    losses.push_back(loss.item());
  }
  return losses;
}

}  // namespace

TEST_CASE("cuda vgg16: the taps and a feature loss's input gradient equal the CPU's") {
  const Vgg16 vgg = Vgg16::standin();
  const std::vector<std::string> taps{"relu1_2", "relu2_2", "relu3_3", "relu4_3"};
  Generator gen(21);
  const Tensor image = Tensor::rand({1, 3, 64, 48}, gen);
  const Tensor on_cpu = image.detach().set_requires_grad(true);
  const Tensor on_gpu = image.to(kGpu).set_requires_grad(true);
  const auto want = vgg.features(on_cpu, taps);
  const auto got = vgg.features(on_gpu, taps);
  for (const auto& tap : taps) check_close(got.at(tap), want.at(tap), 1e-4, "vgg16 " + tap);
  // A content-style feature loss: the mean square of relu3_3 plus the Gram of relu2_2.
  const auto loss_of = [&](const std::map<std::string, Tensor>& f) {
    const Tensor r22 = flatten(f.at("relu2_2"), 2);
    return add(mean(square(f.at("relu3_3"))), mean(square(matmul(r22, transpose(r22, 1, 2)))));
  };
  backward(loss_of(want));
  backward(loss_of(got));
  check_close(on_gpu.grad(), on_cpu.grad(), 1e-4, "vgg16 feature-loss gradient");
}

TEST_CASE("cuda training: 20 Adam steps of a conv net follow the CPU's losses") {
  const std::vector<double> cpu = adam_losses(Device{}, 20), gpu = adam_losses(kGpu, 20);
  REQUIRE(gpu.size() == cpu.size());
  for (size_t i = 0; i < cpu.size(); ++i) {
    CAPTURE(i);
    // Float32 rounding differences compound through the steps: 1e-3 relative after 20.
    CHECK(std::abs(gpu[i] - cpu[i]) <= 1e-3 * std::abs(cpu[i]));
  }
  CHECK(gpu.back() < gpu.front());
}

TEST_CASE("cuda determinism: the same seed gives bit-identical losses on two GPU runs") {
  const std::vector<double> first = adam_losses(kGpu, 10), second = adam_losses(kGpu, 10);
  CHECK(first == second);
}

namespace {

// The decoder stage for a few steps on the shared sample photos (the only data a lent GPU machine
// is given), on `device`; the per-step losses.
std::vector<double> decoder_stage_losses(Device device, const std::string& tag) {
  const test::TempDir dir(tag);
  TrainOptions o = test::tiny_run(dir.path, TrainStage::Decoder, 6);
  o.content_dir = data_root() + "/data/samples";
  o.device = device;
  return train_style_model(o).losses.at("loss");
}

}  // namespace

TEST_CASE("cuda training: a short style-model run matches the CPU run's losses and repeats bit for bit") {
  const std::vector<double> cpu = decoder_stage_losses(Device{}, "cuda_train_cpu");
  const std::vector<double> gpu = decoder_stage_losses(kGpu, "cuda_train_gpu");
  REQUIRE(gpu.size() == cpu.size());
  for (size_t i = 0; i < cpu.size(); ++i) {
    CAPTURE(i);
    CHECK(std::abs(gpu[i] - cpu[i]) <= 1e-3 * std::abs(cpu[i]));  // float32 orders differ; 6 steps
  }
  CHECK(decoder_stage_losses(kGpu, "cuda_train_gpu_again") == gpu);
}

TEST_CASE("cuda clip_grad_norm_: the GPU's norm (reduced on the device) and clipped gradients equal the CPU's") {
  for (double norm_type : {2.0, 1.0, std::numeric_limits<double>::infinity()}) {
    CAPTURE(norm_type);
    std::vector<std::vector<Tensor>> grads;
    std::vector<double> norms;
    for (Device device : {Device{}, kGpu}) {
      auto net = small_net();
      net->to(device);
      Generator gen(8);
      backward(mse_loss(net->forward(Tensor::randn({2, 3, 12, 10}, gen, DType::Float32, device)),
                        Tensor::randn({2, 3, 24, 20}, gen, DType::Float32, device)));
      norms.push_back(clip_grad_norm_(net->parameters(), 1e-3, norm_type));
      grads.emplace_back();
      for (const Tensor& p : net->parameters()) grads.back().push_back(p.grad());
    }
    CHECK(std::abs(norms[1] - norms[0]) <= 1e-5 * norms[0]);
    for (size_t i = 0; i < grads[0].size(); ++i) check_close(grads[1][i], grads[0][i], 1e-4, "clipped gradient");
  }
}

TEST_CASE("cuda models: a style model on the GPU saves the same bytes as on the CPU, and loads back onto it") {
  const test::TempDir dir("cuda_save");
  StyleModelConfig config;
  config.decoder_width = 0.125;
  config.k = 8;
  Generator gen(3);
  StyleModel model(config, Vgg16::standin().identity().str(), &gen);
  model.save(dir.path / "cpu.safetensors");
  model.to(kGpu);
  CHECK(model.decoder->parameters().front().device() == kGpu);
  model.save(dir.path / "gpu.safetensors");
  CHECK(read_file(dir.path / "gpu.safetensors") == read_file(dir.path / "cpu.safetensors"));
  StyleModel loaded = StyleModel::load(dir.path / "gpu.safetensors");
  loaded.to(kGpu);
  const TensorDict a = model.state_dict(), b = loaded.state_dict();
  for (const auto& [k, v] : a) CHECK(v.to(Device{}).to_vector<float>() == b.at(k).to(Device{}).to_vector<float>());
}
