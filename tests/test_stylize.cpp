// `stylize`: tiled = whole image for every fusion, whole image = decode(fuse) with the training
// code's fusion, alpha, blending of styles, colour preservation; optimisation mode.
#include <doctest/doctest.h>

#include <array>
#include <filesystem>
#include <fstream>

#include "autograd/grad_mode.h"
#include "stylenet/optimize.h"
#include "stylenet/stylize.h"
#include "tests/style_fixtures.h"
#include "tests/temp_dir.h"
#include "tests/tensor_compare.h"
#include "weights/safetensors.h"

using namespace sn;
using namespace sn::test;
namespace fs = std::filesystem;
using sn::test::max_abs_diff;

TEST_CASE("stylize: tiles give the whole-image result (global statistics, no seams), for every method") {
  Generator gen(4);
  StyleModel m({"relu3_1", 0.125, 8}, standin_encoder().identity().str(), &gen);
  const Tensor content = resize_image(load_image(sample_path("content_")), 88, 100);  // not tile multiples
  const Tensor style = resize_image(load_image(sample_path("style_")), 64, 64);
  for (FusionMethod method : {FusionMethod::Learned, FusionMethod::AdaIN, FusionMethod::WCT}) {
    CAPTURE(fusion_method_name(method));
    StylizeOptions whole;
    whole.method = method;
    whole.tile = 0;
    StylizeOptions tiled = whole;
    tiled.tile = 24;  // 4 x 5 tiles, each with a 32-pixel margin
    const Tensor a = stylize(standin_encoder(), m, content, {{style, 1.0}}, whole);
    CHECK(a.shape() == content.shape());
    // Every tile's features kept between passes (the default budget), none (re-encoded per pass),
    // and some: the same result.
    for (int64_t cache : {tiled.feature_cache_bytes, int64_t{0}, int64_t{600} << 10}) {
      CAPTURE(cache);
      tiled.feature_cache_bytes = cache;
      CHECK(max_abs_diff(a, stylize(standin_encoder(), m, content, {{style, 1.0}}, tiled)) < 2e-4);
    }
  }
}

TEST_CASE("stylize: untiled, it is the decoder applied to the training code's fusion, for every method") {
  // One implementation per fusion: what `stylize` paints is decode(fuse(C, S)) with the fusion
  // that training differentiates through (LearnedFusion::fuse) and the plain adain() / wct().
  Generator gen(5);
  StyleModel m({"relu3_1", 0.125, 8}, standin_encoder().identity().str(), &gen);
  const Tensor content = resize_image(load_image(sample_path("content_")), 64, 72);  // multiples of 8: no padding
  const Tensor style = resize_image(load_image(sample_path("style_")), 48, 56);
  NoGradGuard ng;
  const Tensor C = standin_encoder().features(content, {"relu3_1"}).at("relu3_1");
  const Tensor S = standin_encoder().features(style, {"relu3_1"}).at("relu3_1");
  const std::vector<std::pair<FusionMethod, Tensor>> fused = {
      {FusionMethod::Learned, m.fusion->fuse(C, S)}, {FusionMethod::AdaIN, adain(C, S)}, {FusionMethod::WCT, wct(C, S)}};
  for (const auto& [method, t] : fused) {
    CAPTURE(fusion_method_name(method));
    StylizeOptions o;
    o.method = method;
    o.tile = 0;
    o.border = 0;
    const Tensor direct = clamp(m.decoder->forward(t), 0.0, 1.0);
    const Tensor painted = stylize(standin_encoder(), m, content, {{style, 1.0}}, o);
    CHECK(max_abs_diff(painted, direct) <= 1e-5 * max(abs(direct)).item());
  }
}

TEST_CASE("stylize: alpha 0 is the decoder's reconstruction, styles blend by weight, colour preservation") {
  Generator gen(6);
  StyleModel m({"relu3_1", 0.125, 8}, standin_encoder().identity().str(), &gen);
  const Tensor content = resize_image(load_image(sample_path("content_")), 48, 40);
  const Tensor style = resize_image(load_image(sample_path("style_")), 40, 40);
  StylizeOptions o;
  o.method = FusionMethod::AdaIN;
  o.alpha = 0.0;
  o.border = 0;  // exactly what the decoder makes of the photo's own features
  const Tensor rec = stylize(standin_encoder(), m, content, {{style, 1.0}}, o);
  Tensor direct;
  {
    NoGradGuard ng;
    direct = clamp(m.decoder->forward(standin_encoder().features(content, {"relu3_1"}).at("relu3_1")), 0.0, 1.0);
  }
  CHECK(max_abs_diff(rec, direct) < 1e-5);
  // Two copies of one style at any weights = that style alone.
  o.alpha = 1.0;
  const Tensor one = stylize(standin_encoder(), m, content, {{style, 1.0}}, o);
  const Tensor two = stylize(standin_encoder(), m, content, {{style, 0.3}, {style, 0.9}}, o);
  CHECK(max_abs_diff(one, two) < 1e-5);
  // Colour preservation: the result's luma is the stylized image's, its chroma the content's.
  Generator g(8);
  const Tensor c = Tensor::rand({1, 3, 5, 6}, g, 0.3, 0.7);  // mid-range: no clamping
  const Tensor st = Tensor::rand({1, 3, 5, 6}, g, 0.3, 0.7);
  const Tensor r = transfer_luminance(st, c);
  auto yuv = [](const Tensor& x) {
    const auto v = x.to_vector<float>();
    const size_t n = v.size() / 3;
    std::vector<std::array<double, 3>> out(n);
    for (size_t i = 0; i < n; ++i) {
      const double y = 0.299 * v[i] + 0.587 * v[n + i] + 0.114 * v[2 * n + i];
      out[i] = {y, v[2 * n + i] - y, v[i] - y};
    }
    return out;
  };
  const auto yr = yuv(r), ys = yuv(st), yc = yuv(c);
  for (size_t i = 0; i < yr.size(); ++i) {
    CHECK(yr[i][0] == doctest::Approx(ys[i][0]).epsilon(1e-5));
    CHECK(yr[i][1] == doctest::Approx(yc[i][1]).epsilon(1e-5));
    CHECK(yr[i][2] == doctest::Approx(yc[i][2]).epsilon(1e-5));
  }
  o.preserve_color = true;
  const Tensor pc = stylize(standin_encoder(), m, content, {{style, 1.0}}, o);
  CHECK(pc.shape() == content.shape());
  CHECK_THROWS_AS(stylize(standin_encoder(), m, content, {}, o), Error);
  o.alpha = 1.5;
  CHECK_THROWS_AS(stylize(standin_encoder(), m, content, {{style, 1.0}}, o), Error);
}

TEST_CASE("stylize: a style's statistics from the style cache give the same picture; the cache is read, and skipped when bad") {
  Generator gen(6);
  StyleModel m({"relu3_1", 0.125, 8}, standin_encoder().identity().str(), &gen);
  m.add_level(StyleModel({"relu2_1", 0.125, 8}, standin_encoder().identity().str(), &gen));
  const Tensor content = resize_image(load_image(sample_path("content_")), 40, 48);
  const Tensor style = resize_image(load_image(sample_path("style_")), 48, 56);
  StylizeOptions o;
  o.multi_level = true;  // learned at relu3_1, WCT at relu2_1: every kind of statistics
  const Tensor plain = stylize(standin_encoder(), m, content, {{style, 1.0}}, o);
  TempDir dir("style_cache");
  const auto with_cache = [&](const std::string& identity) {
    const StyleCache cache(dir.path, identity);
    StylizeOptions c = o;
    c.style_cache = &cache;
    return stylize(standin_encoder(), m, content, {{style, 1.0}}, c);
  };
  CHECK(max_abs_diff(with_cache("model a"), plain) == 0.0);  // encoded, then written
  REQUIRE(dir.files().size() == 1);
  const fs::path file = dir.path / dir.files()[0];
  CHECK(max_abs_diff(with_cache("model a"), plain) == 0.0);  // read back (a new cache: from disk)
  // Read, not recomputed: a file holding other statistics under the same name changes the picture.
  SafetensorsContents kept = load_safetensors(file);
  kept.tensors.set("0.mean", kept.tensors.at("0.mean") + 1.0);
  save_safetensors(file, kept.tensors, kept.metadata);
  CHECK(max_abs_diff(with_cache("model a"), plain) > 0.0);
  // Another model's statistics are not this one's: a second file.
  CHECK(max_abs_diff(with_cache("model b"), plain) == 0.0);
  CHECK(dir.files().size() == 2);
  // A damaged file, or one whose statistics have the wrong shapes, is skipped (the style encoded
  // again) and rewritten whole.
  kept.tensors.set("0.mean", Tensor::zeros({1, 3, 1, 1}));
  save_safetensors(file, kept.tensors, kept.metadata);
  CHECK(max_abs_diff(with_cache("model a"), plain) == 0.0);
  { std::ofstream(file, std::ios::binary | std::ios::trunc) << "not safetensors"; }
  CHECK(max_abs_diff(with_cache("model a"), plain) == 0.0);
  CHECK(max_abs_diff(with_cache("model a"), plain) == 0.0);
  CHECK(load_safetensors(file).tensors.contains("1.colouring"));
}

TEST_CASE("optimisation mode lowers the style loss of the image it paints") {
  const Tensor content = resize_image(load_image(sample_path("content_")), 40, 40);
  const Tensor style = resize_image(load_image(sample_path("style_")), 40, 40);
  for (ImageOptimizer which : {ImageOptimizer::LBFGS, ImageOptimizer::Adam}) {
    OptimizeOptions o;
    o.optimizer = which;
    o.steps = 15;
    std::vector<double> losses;
    const Tensor out = optimize_image(standin_encoder(), content, {{style, 1.0}}, o, [&](int64_t, int64_t, double l) { losses.push_back(l); });
    CHECK(out.shape() == content.shape());
    CHECK(losses.back() < 0.7 * losses.front());
  }
}

TEST_CASE("coarse-to-fine optimisation: each scale lowers its objective; max_seconds bounds the run") {
  const Tensor content = sample_image("content_", 0, 64, 80);
  const Tensor style = sample_image("style_", 0, 48, 48);
  OptimizeOptions o;
  o.steps = 8;
  o.coarse_sides = {32, 16, 48, 200};  // 200 is not below the photo: skipped; 16 after 32: skipped
  std::vector<std::pair<int64_t, double>> losses;
  int64_t total = 0;
  const Tensor out = optimize_image(standin_encoder(), content, {{style, 1.0}}, o, [&](int64_t step, int64_t n, double l) {
    losses.push_back({step, l});
    total = n;
  });
  CHECK(out.shape() == content.shape());
  REQUIRE(total == 3 * o.steps);  // 32, 48, then 64 x 80
  REQUIRE(losses.size() == static_cast<size_t>(total));
  for (int64_t scale = 0; scale < 3; ++scale) {
    CAPTURE(scale);
    const auto& first = losses[scale * o.steps];
    const auto& last = losses[scale * o.steps + o.steps - 1];
    CHECK(first.first == scale * o.steps + 1);
    CHECK(last.second < 0.9 * first.second);
  }
  // The next scale starts from the last one's result, not from the photo: its first loss is far
  // below the first scale's first (the photo's).
  CHECK(losses[o.steps].second < 0.8 * losses[0].second);
  // A time limit that is already spent: every scale stops at once, the result is still full size.
  o.max_seconds = 1e-9;
  losses.clear();
  const Tensor quick = optimize_image(standin_encoder(), content, {{style, 1.0}}, o,
                                      [&](int64_t step, int64_t, double l) { losses.push_back({step, l}); });
  CHECK(quick.shape() == content.shape());
  CHECK(losses.size() <= 3);
  CHECK(default_coarse_sides(512) == std::vector<int64_t>{128, 256});
  CHECK(default_coarse_sides(1080) == std::vector<int64_t>{135, 270, 540});
  CHECK(default_coarse_sides(200).empty());
}
