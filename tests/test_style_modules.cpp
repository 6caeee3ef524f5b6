// The style-transfer model pieces (stylenet/fusion.h, decoder.h, losses.h): analytic gradients
// against central differences in float64, and the statistical properties each fusion promises
// (AdaIN matches per-channel mean/std, WCT the full covariance). Parity with PyTorch is in
// test_style_parity.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "autograd/gradcheck.h"
#include "stylenet/decoder.h"
#include "stylenet/fusion.h"
#include "stylenet/learned_fusion.h"
#include "stylenet/losses.h"
#include "stylenet/style_model.h"
#include "vision/plot.h"
#include "tensor/cpu/parallel.h"
#include "tensor/random.h"
#include "tests/style_fixtures.h"
#include "tests/tensor_compare.h"

using namespace sn;
using sn::test::max_abs_diff;

namespace {

Tensor randn64(const Shape& shape, Generator& gen, bool grad = true) {
  Tensor t = Tensor::randn(shape, gen, DType::Float64);
  if (grad) t.set_requires_grad(true);
  return t;
}

// Features whose channels are correlated (random mixing of independent noise) and have nonzero
// means, like real VGG activations: a covariance far from diagonal is what WCT must reproduce.
Tensor correlated(int64_t n, int64_t c, int64_t h, int64_t w, Generator& gen) {
  const Tensor mix = Tensor::randn({c, c}, gen, DType::Float64);
  const Tensor z = Tensor::randn({n, c, h * w}, gen, DType::Float64);
  const Tensor offset = Tensor::randn({1, c, 1}, gen, DType::Float64);
  return reshape(matmul(mix, z) + offset * 3.0, {n, c, h, w});
}

// Per-image channel covariance (unbiased) [N, c, c] and mean [N, c, 1], computed independently of
// the code under test (plain ops, float64).
std::pair<Tensor, Tensor> cov_mean(const Tensor& F) {
  const int64_t n = F.size(0), c = F.size(1), hw = F.size(2) * F.size(3);
  const Tensor x = reshape(F.to(DType::Float64), {n, c, hw});
  const Tensor m = mean(x, {2}, true);
  const Tensor xc = x - m;
  return {matmul(xc, transpose(xc, 1, 2)) / static_cast<double>(hw - 1), m};
}

double max_abs(const Tensor& a) { return max(abs(a)).item(); }

void check_grad(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& xs,
                double atol = 1e-6, double rtol = 1e-5) {
  GradcheckOptions opt;
  opt.atol = atol;
  opt.rtol = rtol;
  const GradcheckResult r = gradcheck(fn, xs, opt);
  INFO(r.message);
  CHECK(r.ok);
}

// Inputs for a module gradcheck: the given tensors, then every parameter (float64 already).
std::vector<Tensor> with_params(std::vector<Tensor> xs, const Module& m) {
  for (const Tensor& p : m.parameters()) xs.push_back(p);
  return xs;
}

}  // namespace

TEST_CASE("fusion method names parse and print") {
  for (FusionMethod m : {FusionMethod::Learned, FusionMethod::AdaIN, FusionMethod::WCT})
    CHECK(parse_fusion_method(fusion_method_name(m)) == m);
  CHECK(parse_fusion_method("LST") == FusionMethod::Learned);
  CHECK(parse_fusion_method("AdaIN") == FusionMethod::AdaIN);
  CHECK_THROWS_AS(parse_fusion_method("gatys"), Error);
}

TEST_CASE("adain: output carries the style's per-channel mean and std, the content's layout") {
  Generator gen(7);
  const Tensor C = correlated(2, 5, 6, 7, gen);
  const Tensor S = correlated(1, 5, 4, 9, gen);  // one style for both images, other size
  const Tensor t = adain(C, S);
  CHECK(t.shape() == C.shape());
  const auto [tm, ts] = channel_mean_std(t, 0.0);
  const auto [sm, ss] = channel_mean_std(S, 0.0);
  // std matches up to eps's effect (sqrt(var + eps) vs sqrt(var)): relative ~eps / var.
  CHECK(max_abs_diff(tm, expand(sm, tm.shape())) < 1e-9 * (1 + max_abs(sm)));
  CHECK(max_abs_diff(ts, expand(ss, ts.shape())) < 1e-5 * max_abs(ss));
  // Normalised content is unchanged in shape: adain(C, C) is C.
  CHECK(max_abs_diff(adain(C, C), C) < 1e-9 * max_abs(C));
}

TEST_CASE("gradcheck: adain (same and broadcast style batch)") {
  Generator gen(11);
  const Tensor C = randn64({2, 3, 4, 5}, gen), S = randn64({2, 3, 3, 3}, gen), S1 = randn64({1, 3, 5, 2}, gen);
  check_grad([](auto& x) { return adain(x[0], x[1]); }, {C, S});
  check_grad([](auto& x) { return adain(x[0], x[1]); }, {C, S1});
}

TEST_CASE("wct: output has the style's covariance and mean") {
  Generator gen(3);
  const Tensor C = correlated(2, 6, 8, 8, gen);
  const Tensor S = correlated(1, 6, 7, 9, gen);
  const Tensor t = wct(C, S, 1e-8);
  CHECK(t.shape() == C.shape());
  CHECK_FALSE(t.requires_grad());
  const auto [cs, ms] = cov_mean(S);
  const auto [ct, mt] = cov_mean(t);
  for (int64_t n = 0; n < 2; ++n) {
    CHECK(max_abs_diff(select(ct, 0, n), select(cs, 0, 0)) < 1e-6 * max_abs(cs));
    CHECK(max_abs_diff(select(mt, 0, n), select(ms, 0, 0)) < 1e-6 * (1 + max_abs(ms)));
  }
  // Whitening then colouring with the content's own statistics gives the content back.
  CHECK(max_abs_diff(wct(C, C, 1e-8), C) < 1e-5 * max_abs(C));
  // float32 in, float32 out; per-image styles.
  const Tensor S2 = correlated(2, 6, 5, 5, gen);
  const Tensor t32 = wct(C.to(DType::Float32), S2.to(DType::Float32), 1e-5);
  CHECK(t32.dtype() == DType::Float32);
  const auto [cs2, ms2] = cov_mean(S2);
  const auto [ct2, mt2] = cov_mean(t32);
  CHECK(max_abs_diff(ct2, cs2) < 1e-3 * max_abs(cs2));
}

TEST_CASE("wct: moments of large maps (many pixel blocks, in parallel) are exact for every thread count") {
  // 100 x 90 = 9000 pixels: three blocks of 4096, merged with Chan's update in chunk order.
  Generator gen(4);
  const Tensor C = correlated(1, 6, 8, 8, gen);
  const Tensor S = correlated(1, 6, 100, 90, gen) + 3.0;  // an offset mean tests the centring
  const auto [cs, ms] = cov_mean(S);
  Tensor by_threads[2];
  for (int threads : {1, 2}) {
    cpu::ThreadsScope scope(threads);
    const Tensor t = wct(C, S, 1e-8);
    const auto [ct, mt] = cov_mean(t);
    CHECK(max_abs_diff(ct, cs) < 1e-6 * max_abs(cs));
    CHECK(max_abs_diff(mt, ms) < 1e-6 * max_abs(ms));
    by_threads[threads - 1] = t;
  }
  CHECK(max_abs_diff(by_threads[0], by_threads[1]) < 1e-9 * max_abs(by_threads[0]));
}

TEST_CASE("wct: rank-deficient covariances stay finite") {
  Generator gen(5);
  // 4 pixels for 6 channels (rank <= 3 after centring), and a dead (all-zero) content channel.
  Tensor C = correlated(1, 6, 2, 2, gen).clone_data();
  select(select(C, 0, 0), 0, 2).fill(0.0);
  const Tensor S = correlated(1, 6, 1, 3, gen);  // style rank <= 2
  const Tensor t = wct(C, S, 1e-5);
  for (double v : t.to_vector<double>()) REQUIRE(std::isfinite(v));
  // eps regularisation must not blow the null directions up: values stay on the inputs' scale.
  CHECK(max_abs(t) < 10 * (max_abs(C) + max_abs(S)));
}

TEST_CASE("gradcheck: LearnedFusion, inputs and every parameter") {
  Generator gen(21);
  LearnedFusion fusion(8, 3, &gen);
  fusion.to(DType::Float64);
  const Tensor C = randn64({2, 8, 4, 3}, gen), S = randn64({2, 8, 3, 5}, gen);
  check_grad([&](auto& x) { return fusion.fuse(x[0], x[1]); }, with_params({C, S}, fusion), 1e-6, 1e-4);
}

TEST_CASE("LearnedFusion: shapes, keys, one style for a batch, style mean with zero biases") {
  Generator gen(2);
  LearnedFusion fusion(16, 4, &gen);
  const Tensor C = Tensor::randn({2, 16, 5, 6}, gen), S = Tensor::randn({2, 16, 3, 4}, gen);
  CHECK(fusion.fuse(C, S).shape() == C.shape());
  const std::vector<std::string> keys = fusion.state_dict().keys();
  CHECK(keys.front() == "snet.convs.0.weight");
  CHECK(fusion.state_dict().contains("cnet.fc.bias"));
  CHECK(fusion.state_dict().at("snet.convs.4.weight").shape() == Shape{4, 4, 3, 3});  // 16 -> 8 -> 4 -> k
  CHECK(keys.back() == "unzip.bias");
  CHECK_THROWS_AS(fusion.forward(C), Error);
  // A style of batch 1 serves every image: the same as that style repeated.
  const Tensor S0 = slice(S, 0, 0, 1);
  CHECK(max_abs_diff(fusion.fuse(C, S0), fusion.fuse(C, cat({S0, S0}, 0))) == 0.0);
  CHECK_THROWS_AS(fusion.fuse(C, cat({S, S0}, 0)), Error);  // 3 styles for 2 images

  // With compress and unzip biases zero, the transformed centred content has zero mean, so the
  // output mean is exactly the style mean (the only place S's mean enters).
  fusion.compress->bias.fill(0.0);
  fusion.unzip->bias.fill(0.0);
  const Tensor t = fusion.fuse(C, S);
  CHECK(max_abs_diff(mean(t, {2, 3}), mean(S, {2, 3})) < 1e-4);
}

TEST_CASE("LearnedFusion started at WCT: exactly WCT at step 0; a correction on top, differentiable") {
  // Float32 features as training sees them, shaped like relu3_1 crops (more channels than k).
  Generator gen(41);
  StyleModelConfig config{"relu2_1", 0.125, 8};
  config.fusion_start = FusionStart::WCT;
  StyleModel model(config, "test encoder", &gen);
  const Tensor C = correlated(2, 128, 9, 11, gen).to(DType::Float32), S = correlated(2, 128, 8, 7, gen).to(DType::Float32);
  const Tensor t = model.fusion->fuse(C, S), w = wct(C, S);
  CHECK(max_abs_diff(t, w) <= 1e-5 * max_abs(w));
  CHECK(model.describe().at("fusion_start") == "wct");
  CHECK(StyleModel::from_description(model.describe(), "m").fusion->start() == FusionStart::WCT);
  CHECK(StyleModel({"relu2_1", 0.125, 8}, "e").describe().count("fusion_start") == 0);  // old files unchanged
  CHECK_THROWS_WITH_AS(collection_style(sn::test::standin_encoder(), model, {Tensor::zeros({1, 3, 16, 16})}, "c"),
                       doctest::Contains("starts at wct"), Error);

  // Once unzip moves, t = WCT + unzip(T_s T_c z); the gradient reaches every parameter of W (the
  // WCT part has none, and is a constant of the encoder's features).
  LearnedFusion small(8, 3, &gen, FusionStart::WCT);  // StyleModel zeroes unzip; by hand here
  for (Tensor p : small.unzip->parameters()) p.fill(0.0);
  small.to(DType::Float64);
  const Tensor C64 = correlated(2, 8, 4, 5, gen), S64 = correlated(2, 8, 5, 3, gen);
  CHECK(max_abs_diff(small.fuse(C64, S64), wct(C64, S64)) < 1e-9 * max_abs(wct(C64, S64)));
  NoGradGuard no_grad;
  Tensor(small.unzip->weight).copy_from(Tensor::randn({8, 3, 1, 1}, gen, DType::Float64) * 0.3);
  CHECK(max_abs_diff(small.fuse(C64, S64), wct(C64, S64)) > 1e-3);
}

TEST_CASE("gradcheck: LearnedFusion started at WCT, every parameter") {
  Generator gen(22);
  LearnedFusion fusion(8, 3, &gen, FusionStart::WCT);
  fusion.to(DType::Float64);
  const Tensor C = correlated(2, 8, 4, 3, gen), S = correlated(2, 8, 3, 5, gen);
  check_grad([&](auto&) { return fusion.fuse(C, S); }, with_params({}, fusion), 1e-6, 1e-4);
}

TEST_CASE("fusion in two phases: statistics over tiles equal the whole image's, for every method") {
  // The content's statistics accumulated over four windows of its features (unequal, one of a
  // single pixel) and then applied to the whole map give what one tile gives: the property that
  // lets `stylize` go through a large photo in tiles without seams.
  Generator gen(31);
  LearnedFusion identity_start(8, 3, &gen), wct_start(8, 3, &gen, FusionStart::WCT);
  identity_start.to(DType::Float64);
  wct_start.to(DType::Float64);
  const Tensor C = correlated(2, 8, 7, 9, gen), S = correlated(2, 8, 6, 5, gen);
  const std::vector<Window> windows = {{0, 1, 0, 1}, {0, 1, 1, 9}, {1, 7, 0, 4}, {1, 7, 4, 9}};
  for (auto [method, module] : {std::pair{FusionMethod::Learned, &identity_start}, {FusionMethod::Learned, &wct_start},
                                {FusionMethod::AdaIN, &identity_start}, {FusionMethod::WCT, &identity_start}}) {
    CAPTURE(fusion_method_name(method));
    CAPTURE(fusion_start_name(module->start()));
    const std::unique_ptr<Fusion> tiled = Fusion::make(method, module);
    for (int pass = 0; pass < tiled->content_passes(); ++pass) {
      for (const Window& w : windows) tiled->add_content(C, w);
      tiled->end_pass();
    }
    tiled->add_style(S);
    const Tensor whole = fuse(method, C, S, module);
    CHECK(max_abs_diff(tiled->apply(C), whole) < 1e-10 * max_abs(whole));
    // Phase 2 is per pixel (1x1 convs, per-pixel matrices): any window of the features gets the
    // whole map's values there.
    const Tensor part = slice(C, 3, 2, 6);
    CHECK(max_abs_diff(tiled->apply(part), slice(whole, 3, 2, 6)) < 1e-10 * max_abs(whole));
  }
}

TEST_CASE("gradcheck: losses") {
  Generator gen(31);
  const Tensor F = randn64({2, 3, 4, 5}, gen), Fs = randn64({1, 3, 3, 3}, gen), Ft = randn64({2, 3, 4, 5}, gen);
  check_grad([](auto& x) { return gram(x[0]); }, {F});
  check_grad([](auto& x) { return mean_std_loss(x[0], x[1]); }, {F, Fs});
  check_grad([](auto& x) { return gram_loss(x[0], x[1]); }, {F, Fs});
  check_grad([](auto& x) { return content_loss(x[0], x[1]); }, {F, Ft});
  check_grad([](auto& x) { return total_variation(x[0]); }, {randn64({2, 3, 5, 4}, gen)});
  check_grad([](auto& x) { return laplacian_loss(x[0], x[1], 1); }, {randn64({2, 3, 5, 4}, gen), randn64({2, 3, 5, 4}, gen)});
  check_grad([](auto& x) { return laplacian_loss(x[0], x[1], 2); }, {randn64({2, 3, 7, 6}, gen), randn64({1, 3, 7, 6}, gen)});
}

TEST_CASE("losses: definitions") {
  Generator gen(4);
  const Tensor F = Tensor::randn({2, 3, 4, 5}, gen, DType::Float64);
  // gram: F F^T / (c h w), symmetric; element (0,0) by hand.
  const Tensor G = gram(F);
  CHECK(G.shape() == Shape{2, 3, 3});
  CHECK(max_abs_diff(G, transpose(G, 1, 2)) < 1e-15);
  CHECK(G.to_vector<double>()[0] == doctest::Approx(sum(square(select(select(F, 0, 0), 0, 0))).item() / 60.0));
  // Identical statistics give zero style losses, whatever the spatial layout.
  CHECK(mean_std_loss(F, F).item() == doctest::Approx(0.0));
  CHECK(gram_loss(F, F).item() == doctest::Approx(0.0));
  // A constant image has no variation; a vertical ramp of step 1 has exactly 1 (only dy).
  CHECK(total_variation(Tensor::full({1, 3, 4, 4}, 0.3, DType::Float64)).item() == 0.0);
  const Tensor ramp = reshape(expand(reshape(Tensor::arange(4, DType::Float64), {4, 1}), {4, 5}), {1, 1, 4, 5});
  CHECK(total_variation(ramp).item() == doctest::Approx(1.0));
  // Laplacian loss: brightness offsets and linear ramps have no Laplacian (no structure to keep);
  // one grey pixel of value v in the centre of a black 5x5 image has Laplacian -4v there and v
  // at its 4 neighbours over the 3x3 valid window, so against black the loss is (16 + 4) v^2 / 9.
  const Tensor black = Tensor::zeros({1, 3, 5, 5}, DType::Float64);
  const Tensor ramp5 = reshape(expand(reshape(Tensor::arange(5, DType::Float64), {1, 1, 5, 1}), {1, 3, 5, 5}), {1, 3, 5, 5});
  CHECK(laplacian_loss(black + 0.4, black).item() == doctest::Approx(0.0));
  CHECK(laplacian_loss(ramp5 * 0.1, black).item() == doctest::Approx(0.0));
  std::vector<double> dot(75, 0.0);
  for (int c = 0; c < 3; ++c) dot[c * 25 + 12] = 0.5;  // grey: luma 0.5
  CHECK(laplacian_loss(Tensor::from_doubles(dot, {1, 3, 5, 5}, DType::Float64), black).item() ==
        doctest::Approx(20.0 * 0.25 / 9.0));
  CHECK_THROWS_AS(laplacian_loss(black, black, 2), Error);  // 5 < 3 * 2: nothing left to compare
  const StyleLossConfig cfg;
  CHECK(cfg.style_taps == std::vector<std::string>{"relu1_2", "relu2_2", "relu3_3", "relu4_3"});
}

TEST_CASE("Decoder: plan, shapes and width") {
  const auto p4 = Decoder::plan({"relu4_1", 1.0});
  const std::vector<std::pair<int64_t, int64_t>> want4 = {{512, 256}, {0, 0}, {256, 256}, {256, 256}, {256, 128},
                                                          {0, 0},     {128, 128}, {128, 64}, {0, 0},   {64, 64},
                                                          {64, 3}};
  CHECK(p4 == want4);
  const auto p3 = Decoder::plan({"relu3_1", 0.5});
  const std::vector<std::pair<int64_t, int64_t>> want3 = {{256, 64}, {0, 0}, {64, 64}, {64, 32}, {0, 0}, {32, 32},
                                                          {32, 3}};
  CHECK(p3 == want3);
  CHECK_THROWS_AS(Decoder::plan({"relu5_1", 1.0}), Error);

  Generator gen(9);
  Decoder dec({"relu3_1", 0.125}, &gen);
  CHECK(dec.scale() == 4);
  CHECK(dec.input_channels() == 256);
  const Tensor y = dec.forward(Tensor::randn({2, 256, 3, 2}, gen));
  CHECK(y.shape() == Shape{2, 3, 12, 8});
  CHECK(dec.state_dict().contains("net.1.weight"));  // pad 0, conv 1
}

TEST_CASE("gradcheck: small Decoder, input and every parameter") {
  Generator gen(13);
  Decoder dec({"relu3_1", 1.0 / 32}, &gen);  // 256 -> 4, up, 4 -> 4, 4 -> 2, up, 2 -> 2, 2 -> 3
  dec.to(DType::Float64);
  const Tensor x = randn64({1, 256, 2, 2}, gen);
  check_grad([&](auto& xs) { return dec.forward(xs[0]); }, with_params({x}, dec), 1e-6, 1e-4);
}

TEST_CASE("style_transfer_loss: weighted sum of the terms, taps, gradients") {
  Generator gen(17);
  StyleLossConfig cfg;
  cfg.style_taps = {"a", "b"};
  cfg.content_tap = "c";
  cfg.weights = {2.0, 3.0, 0.5, 0.25, 0.75, 1.5};
  cfg.laplacian_pool = 1;
  CHECK(loss_taps(cfg) == std::vector<std::string>{"a", "b", "c"});
  cfg.content_tap = "b";
  CHECK(loss_taps(cfg) == std::vector<std::string>{"a", "b"});

  const Tensor oa = randn64({2, 3, 4, 4}, gen), ob = randn64({2, 5, 2, 3}, gen), img = randn64({2, 3, 6, 5}, gen);
  const Tensor sa = randn64({1, 3, 5, 3}, gen, false), sb = randn64({1, 5, 3, 3}, gen, false);
  const Tensor target = randn64({2, 5, 2, 3}, gen, false), photo = randn64({2, 5, 2, 3}, gen, false);
  const Tensor photo_img = randn64({2, 3, 6, 5}, gen, false);
  auto run = [&](const std::vector<Tensor>& x) {
    return style_transfer_loss({{"a", x[0]}, {"b", x[1]}}, target, {{"a", sa}, {"b", sb}}, x[2], cfg, photo, photo_img);
  };
  const LossTerms t = run({oa, ob, img});
  const double want_style = mean_std_loss(oa, sa).item() + mean_std_loss(ob, sb).item();
  const double want_gram = gram_loss(oa, sa).item() + gram_loss(ob, sb).item();
  CHECK(t.content.item() == doctest::Approx(content_loss(ob, target).item()));
  CHECK(t.style.item() == doctest::Approx(want_style));
  CHECK(t.gram.item() == doctest::Approx(want_gram));
  CHECK(t.tv.item() == doctest::Approx(total_variation(img).item()));
  CHECK(t.photo.item() == doctest::Approx(content_loss(ob, photo).item()));
  CHECK(t.laplacian.item() == doctest::Approx(laplacian_loss(img, photo_img, 1).item()));
  CHECK(t.total.item() == doctest::Approx(2.0 * t.content.item() + 3.0 * want_style + 0.5 * want_gram +
                                          0.25 * t.tv.item() + 0.75 * t.photo.item() + 1.5 * t.laplacian.item()));
  check_grad([&](auto& x) { return run(x).total; }, {oa, ob, img});

  // Zero weights skip their terms.
  cfg.weights = {1.0, 1.0, 0.0, 0.0};
  const LossTerms t2 = run({oa, ob, img});
  CHECK_FALSE(t2.gram.defined());
  CHECK_FALSE(t2.tv.defined());
  CHECK_FALSE(t2.photo.defined());
  CHECK_FALSE(t2.laplacian.defined());
  cfg.weights.photo = 1.0;  // a photo weight without the photo's features is an error
  CHECK_THROWS_AS(style_transfer_loss({{"a", oa}, {"b", ob}}, target, {{"a", sa}, {"b", sb}}, img, cfg), Error);
  cfg.weights.photo = 0.0;
  cfg.weights.laplacian = 1.0;  // likewise a Laplacian weight without the photo
  CHECK_THROWS_AS(style_transfer_loss({{"a", oa}, {"b", ob}}, target, {{"a", sa}, {"b", sb}}, img, cfg, photo), Error);
  cfg.weights.laplacian = 0.0;
  CHECK_THROWS_AS(style_transfer_loss({{"a", oa}}, target, {{"a", sa}, {"b", sb}}, img, cfg), Error);
}

TEST_CASE("loss plot: each of 11 series gets its own colour and is drawn in it") {
  // A training run logs up to 11 series (adversarial, Laplacian, Gram, TV terms): without a
  // legend, two series sharing a colour cannot be told apart.
  std::vector<PlotSeries> series;
  for (size_t i = 0; i < 11; ++i) {
    PlotSeries s{"s" + std::to_string(i), std::vector<double>(20, std::pow(10.0, -0.3 * i)), {0, 0, 0}};
    palette_colour(i, s.rgb);
    for (const PlotSeries& other : series)
      CHECK(std::abs(other.rgb[0] - s.rgb[0]) + std::abs(other.rgb[1] - s.rgb[1]) + std::abs(other.rgb[2] - s.rgb[2]) > 0.1f);
    series.push_back(s);
  }
  const Tensor img = plot_series(series, 200, 400);
  const std::vector<float> px = img.to_vector<float>();
  const size_t plane = 200 * 400;
  for (const PlotSeries& s : series) {
    bool drawn = false;
    for (size_t i = 0; i < plane && !drawn; ++i)
      drawn = px[i] == s.rgb[0] && px[plane + i] == s.rgb[1] && px[2 * plane + i] == s.rgb[2];
    CAPTURE(s.name);
    CHECK(drawn);
  }
}
