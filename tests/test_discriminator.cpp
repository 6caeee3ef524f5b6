// The PatchGAN discriminator (training/discriminator.h) and spectral normalisation
// (layers/spectral_norm.h): shapes per scale, receptive field, what spectral norm promises (unit
// largest singular value once the power iteration has converged), when u, v change, and state_dict
// keys in PyTorch's order. Gradients are in test_gradcheck.cpp, parity with PyTorch in
// test_style_parity.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "layers/spectral_norm.h"
#include "training/discriminator.h"
#include "tensor/random.h"

using namespace sn;

namespace {

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

std::vector<std::string> keys(const Module& m) { return m.state_dict().keys(); }

// A snapshot: state_dict() hands out the live tensors, which later forwards may change.
TensorDict copy_state(const Module& m) {
  TensorDict out;
  for (const auto& [k, t] : m.state_dict()) out.insert(k, t.clone_data());
  return out;
}

// Largest singular value of a matrix [rows, cols], in double, independent of the code under test:
// the largest eigenvalue of the Gram matrix A A^T by cyclic Jacobi rotations, then its root.
double largest_singular_value(const Tensor& a) {
  REQUIRE(a.dim() == 2);
  const int64_t r = a.size(0), c = a.size(1);
  const std::vector<double> v = a.to_vector<double>();
  std::vector<double> g(r * r, 0.0);
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < r; ++j)
      for (int64_t k = 0; k < c; ++k) g[i * r + j] += v[i * c + k] * v[j * c + k];
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int64_t p = 0; p < r; ++p)
      for (int64_t q = p + 1; q < r; ++q) off += g[p * r + q] * g[p * r + q];
    if (off < 1e-30) break;
    for (int64_t p = 0; p < r; ++p)
      for (int64_t q = p + 1; q < r; ++q) {
        if (g[p * r + q] == 0.0) continue;
        // Rotation in the (p, q) plane that zeroes g[p][q].
        const double theta = (g[q * r + q] - g[p * r + p]) / (2 * g[p * r + q]);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double cs = 1 / std::sqrt(t * t + 1), sn = t * cs;
        for (int64_t k = 0; k < r; ++k) {  // columns p, q
          const double gkp = g[k * r + p], gkq = g[k * r + q];
          g[k * r + p] = cs * gkp - sn * gkq;
          g[k * r + q] = sn * gkp + cs * gkq;
        }
        for (int64_t k = 0; k < r; ++k) {  // rows p, q
          const double gpk = g[p * r + k], gqk = g[q * r + k];
          g[p * r + k] = cs * gpk - sn * gqk;
          g[q * r + k] = sn * gpk + cs * gqk;
        }
      }
  }
  double top = 0;
  for (int64_t i = 0; i < r; ++i) top = std::max(top, g[i * r + i]);
  return std::sqrt(top);
}

DiscriminatorConfig small(int64_t base, int64_t layers, bool spectral_norm, int64_t scales) {
  DiscriminatorConfig c;
  c.base = base;
  c.layers = layers;
  c.spectral_norm = spectral_norm;
  c.scales = scales;
  return c;
}

}  // namespace

TEST_CASE("discriminator: receptive field and output sizes") {
  CHECK(PatchDiscriminator::receptive_field(3) == 70);  // pix2pix's 70x70 PatchGAN
  CHECK(PatchDiscriminator::receptive_field(1) == 16);
  CHECK(PatchDiscriminator::receptive_field(2) == 34);
  CHECK(PatchDiscriminator::receptive_field(4) == 142);
  // 256 -> 128 -> 64 -> 32 (stride 2) -> 31 -> 30 (stride 1): pix2pix's 30x30 patch map.
  CHECK(PatchDiscriminator::output_size(256, 3) == 30);
  CHECK(PatchDiscriminator::min_input_size(3) == 24);
  CHECK(PatchDiscriminator::output_size(23, 3) < 1);
  CHECK(Discriminator::output_size(256, 3, 1) == 14);  // 128 -> 64 -> 32 -> 16 -> 15 -> 14
}

TEST_CASE("discriminator: logit maps per scale") {
  Generator gen(3);
  for (bool spectral : {false, true}) {
    CAPTURE(spectral);
    Discriminator d(small(4, 2, spectral, 3), &gen);
    const Tensor x = Tensor::rand({2, 3, 64, 52}, gen);
    const std::vector<Tensor> out = d.forward_scales(x);
    REQUIRE(out.size() == 3);
    // layers = 2: side -> floor(floor(side / 2) / 2) - 2; each scale halves (rounding up) first.
    CHECK(out[0].shape() == Shape{2, 1, 14, 11});
    CHECK(out[1].shape() == Shape{2, 1, 6, 4});  // 32 x 26
    CHECK(out[2].shape() == Shape{2, 1, 2, 1});  // 16 x 13
    for (int64_t s = 0; s < 3; ++s) {
      CHECK(out[s].size(2) == Discriminator::output_size(64, 2, s));
      CHECK(out[s].size(3) == Discriminator::output_size(52, 2, s));
    }
  }
}

TEST_CASE("discriminator: input mapping, scales and forward") {
  Generator gen(4);
  Discriminator d(small(4, 2, false, 2), &gen);
  const Tensor x = Tensor::rand({1, 3, 40, 36}, gen);
  NoGradGuard no_grad;
  const std::vector<Tensor> out = d.forward_scales(x);
  const Tensor mapped = x * 2.0 - 1.0;  // [0, 1] -> [-1, 1] inside
  CHECK(max_abs_diff(out[0], d.scale(0).forward(mapped)) == 0.0);
  CHECK(max_abs_diff(out[1], d.scale(1).forward(Discriminator::downsample(mapped))) == 0.0);
  CHECK(max_abs_diff(d.forward(x), out[0]) == 0.0);
  // The scales are separate networks (different weights), not one shared one.
  CHECK(max_abs_diff(d.scale(0).model->state_dict().at("0.weight"), d.scale(1).model->state_dict().at("0.weight")) > 0);
  // count_include_pad = false: a flat image stays flat at the border when downsampled.
  const Tensor flat = Discriminator::downsample(Tensor::full({1, 3, 9, 8}, 0.7));
  CHECK(flat.shape() == Shape{1, 3, 5, 4});
  CHECK(max_abs_diff(flat, Tensor::full({1, 3, 5, 4}, 0.7)) < 1e-6);
}

TEST_CASE("discriminator: bad configurations and too-small images are rejected") {
  CHECK_THROWS_WITH_AS(Discriminator(small(4, 0, false, 1)), doctest::Contains("layers"), Error);
  CHECK_THROWS_WITH_AS(Discriminator(small(0, 3, false, 1)), doctest::Contains("base"), Error);
  CHECK_THROWS_WITH_AS(Discriminator(small(4, 3, false, 0)), doctest::Contains("scales"), Error);
  Discriminator d(small(2, 3, false, 2));
  CHECK_THROWS_WITH_AS(d.forward_scales(Tensor::rand({1, 3, 40, 40}, default_generator())),
                       doctest::Contains("too small"), Error);  // scale 1 sees 20x20 < 24x24
  CHECK_THROWS_WITH_AS(d.forward(Tensor::zeros({1, 3, 20, 30})), doctest::Contains("at least 24x24"), Error);
  CHECK_THROWS_WITH_AS(d.forward(Tensor::zeros({1, 1, 40, 40})), doctest::Contains("[N, 3, H, W]"), Error);
}

TEST_CASE("discriminator: state_dict keys in PyTorch's order") {
  // What torch 1.13 lists for nn.utils.spectral_norm(nn.Conv2d(...)): bias was registered by
  // Conv2d before spectral_norm re-registered the weight as weight_orig.
  SpectralNormConv2d conv(3, 4, 4);
  CHECK(keys(conv) == std::vector<std::string>{"bias", "weight_orig", "weight_u", "weight_v"});
  CHECK(conv.named_parameters().size() == 2);
  CHECK(conv.named_buffers().size() == 2);
  CHECK(conv.weight_u.shape() == Shape{4});
  CHECK(conv.weight_v.shape() == Shape{48});

  PatchDiscriminator sn_patch(small(4, 1, true, 1));
  CHECK(keys(sn_patch) == std::vector<std::string>{
                              "model.0.bias", "model.0.weight_orig", "model.0.weight_u", "model.0.weight_v",
                              "model.2.bias", "model.2.weight_orig", "model.2.weight_u", "model.2.weight_v",
                              "model.5.bias", "model.5.weight_orig", "model.5.weight_u", "model.5.weight_v"});
  // nn.Sequential positions count the norms and activations: conv, lrelu | conv, norm, lrelu x 3 | conv.
  Discriminator d(small(4, 3, false, 2));
  std::vector<std::string> want;
  for (const char* scale : {"d0", "d1"})
    for (int i : {0, 2, 5, 8, 11})
      for (const char* p : {"weight", "bias"})
        want.push_back(std::string(scale) + ".model." + std::to_string(i) + "." + p);
  CHECK(keys(d) == want);
  CHECK(d.scale(1).model->size() == 12);
}

TEST_CASE("discriminator: config and description") {
  Discriminator d(small(8, 2, true, 2));
  CHECK(d.config().base == 8);
  CHECK(d.config().layers == 2);
  CHECK(d.config().spectral_norm);
  CHECK(d.config().scales == 2);
  CHECK(d.extra_repr() == "base=8, layers=2, spectral_norm=True, scales=2");
  const std::string s = d.str();
  CHECK(s.find("(d1): PatchDiscriminator(base=8, layers=2, spectral_norm=True") != std::string::npos);
  CHECK(s.find("SpectralNormConv2d(3, 8, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), n_power_iterations=1)") !=
        std::string::npos);
  CHECK(s.find("LeakyReLU(negative_slope=0.2)") != std::string::npos);
}

TEST_CASE("spectral norm: the normalised weight's largest singular value converges to 1") {
  Generator gen(11);
  SpectralNormConv2d conv(4, 8, 3, Conv2dConfig{}, &gen);
  {
    NoGradGuard no_grad;
    conv.weight_orig.copy_from(conv.weight_orig * 3.0);  // far from 1 before normalising
  }
  const Tensor w0 = reshape(conv.weight_orig, {8, -1});
  const double sigma_orig = largest_singular_value(w0);
  CHECK(sigma_orig > 1.5);
  // Training-mode forwards iterate once each, as in a training loop.
  const Tensor x = Tensor::randn({1, 4, 5, 5}, gen);
  NoGradGuard no_grad;
  for (int i = 0; i < 200; ++i) conv.forward(x);
  const double sigma = largest_singular_value(reshape(conv.normalized_weight(), {8, -1}));
  CHECK(sigma == doctest::Approx(1.0).epsilon(1e-4));
  // sigma = u . W v is then the largest singular value of weight_orig.
  const Tensor est = matmul(conv.weight_u, matmul(w0, conv.weight_v));
  CHECK(est.item() == doctest::Approx(sigma_orig).epsilon(1e-4));
  // u and v stay unit vectors (F.normalize).
  CHECK(sqrt(sum(square(conv.weight_u))).item() == doctest::Approx(1.0).epsilon(1e-6));
  CHECK(sqrt(sum(square(conv.weight_v))).item() == doctest::Approx(1.0).epsilon(1e-6));
}

TEST_CASE("spectral norm: training mode updates u and v, eval mode leaves them") {
  Generator gen(12);
  SpectralNormConv2d conv(3, 5, 3, Conv2dConfig{}, &gen);
  const Tensor x = Tensor::randn({2, 3, 6, 6}, gen);
  const Tensor u0 = conv.weight_u.clone_data(), v0 = conv.weight_v.clone_data();

  conv.eval();
  const Tensor y_eval = conv.forward(x);
  CHECK(max_abs_diff(conv.weight_u, u0) == 0.0);
  CHECK(max_abs_diff(conv.weight_v, v0) == 0.0);
  CHECK(max_abs_diff(conv.forward(x), y_eval) == 0.0);  // deterministic in eval

  conv.train();
  conv.forward(x);
  CHECK(max_abs_diff(conv.weight_u, u0) > 1e-3);
  CHECK(max_abs_diff(conv.weight_v, v0) > 1e-3);
  // Exactly one step: v = normalize(W^T u0), u = normalize(W v).
  const Tensor w = reshape(conv.weight_orig.detach(), {5, -1});
  const Tensor v1 = l2_normalize(matmul(transpose(w, 0, 1), u0));
  const Tensor u1 = l2_normalize(matmul(w, v1));
  CHECK(max_abs_diff(conv.weight_v, v1) < 1e-6);
  CHECK(max_abs_diff(conv.weight_u, u1) < 1e-6);

  // The same holds through the whole Discriminator: eval() reaches every scale's convs.
  Discriminator d(small(2, 1, true, 2), &gen);
  const TensorDict before = copy_state(d);
  d.eval();
  d.forward_scales(Tensor::rand({1, 3, 16, 16}, gen));
  for (const auto& [k, t] : d.state_dict()) CHECK(max_abs_diff(t, before.at(k)) == 0.0);
}

TEST_CASE("spectral norm: two training forwards then one backward use each forward's own u, v") {
  // The GAN pattern loss = D(real) + D(fake): the second forward's power iteration must not
  // change what the first forward's graph differentiates (PyTorch clones u, v for this).
  Generator gen(13);
  SpectralNormConv2d conv(2, 3, 3, Conv2dConfig{}, &gen);
  const Tensor a = Tensor::randn({1, 2, 5, 5}, gen), b = Tensor::randn({1, 2, 5, 5}, gen);
  const Tensor wa = conv.weight_orig.clone_data();
  const Tensor out_a = conv.forward(a);
  const Tensor ua = conv.weight_u.clone_data(), va = conv.weight_v.clone_data();
  const Tensor out_b = conv.forward(b);
  const Tensor ub = conv.weight_u.clone_data(), vb = conv.weight_v.clone_data();
  backward(sum(square(out_a)) + sum(square(out_b)));

  // The same loss with explicit, constant u, v per forward.
  Tensor w = wa.clone_data();
  w.set_requires_grad(true);
  const Tensor ref = sum(square(conv2d(a, spectral_normalized(w, ua, va), conv.bias.detach()))) +
                     sum(square(conv2d(b, spectral_normalized(w, ub, vb), conv.bias.detach())));
  backward(ref);
  CHECK(max_abs_diff(conv.weight_orig.grad(), w.grad()) < 1e-5 * std::max(1.0, max(abs(w.grad())).item()));
}
