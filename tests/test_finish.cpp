// The finishing of the feed-forward methods (stylenet/finish.h): the guided filter against a
// brute-force reference, in strips and on any thread count; the colour match; and paint applying
// both (and not matching colours when the photo's are kept).
#include <doctest/doctest.h>

#include <Eigen/Dense>
#include <algorithm>
#include <vector>

#include "autograd/nn_ops.h"
#include "stylenet/finish.h"
#include "stylenet/paint.h"
#include "style_fixtures.h"
#include "tensor/cpu/parallel.h"
#include "tensor/random.h"
#include "tensor_compare.h"
#include "vision/guided_filter.h"
#include "vision/image.h"

using namespace sn;
using namespace sn::test;

namespace {

// He et al.'s algorithm written out directly: every window's least-squares fit by explicit sums
// over its pixels, in double, then each pixel averages the fits of the windows that cover it.
Tensor guided_filter_reference(const Tensor& guide, const Tensor& source, int64_t r, double eps) {
  const int64_t h = guide.size(2), w = guide.size(3), hw = h * w;
  const auto I = guide.to_vector<float>(), p = source.to_vector<float>();
  std::vector<Eigen::Matrix3d> a(static_cast<size_t>(hw));
  std::vector<Eigen::Vector3d> b(static_cast<size_t>(hw));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      Eigen::Vector3d mi = Eigen::Vector3d::Zero(), mp = Eigen::Vector3d::Zero();
      Eigen::Matrix3d ii = Eigen::Matrix3d::Zero(), ip = Eigen::Matrix3d::Zero();
      double n = 0;
      for (int64_t v = std::max<int64_t>(0, y - r); v <= std::min(h - 1, y + r); ++v)
        for (int64_t u = std::max<int64_t>(0, x - r); u <= std::min(w - 1, x + r); ++u) {
          Eigen::Vector3d gi, pi;
          for (int k = 0; k < 3; ++k) gi(k) = I[k * hw + v * w + u], pi(k) = p[k * hw + v * w + u];
          mi += gi, mp += pi, ii += gi * gi.transpose(), ip += gi * pi.transpose(), n += 1;
        }
      mi /= n, mp /= n, ii /= n, ip /= n;
      const Eigen::Matrix3d sigma = ii - mi * mi.transpose() + eps * Eigen::Matrix3d::Identity();
      const Eigen::Matrix3d coef = sigma.ldlt().solve(ip - mi * mp.transpose());  // [k][c]
      a[y * w + x] = coef;
      b[y * w + x] = mp - coef.transpose() * mi;
    }
  std::vector<float> out(static_cast<size_t>(3 * hw));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      Eigen::Matrix3d ma = Eigen::Matrix3d::Zero();
      Eigen::Vector3d mb = Eigen::Vector3d::Zero();
      double n = 0;
      for (int64_t v = std::max<int64_t>(0, y - r); v <= std::min(h - 1, y + r); ++v)
        for (int64_t u = std::max<int64_t>(0, x - r); u <= std::min(w - 1, x + r); ++u)
          ma += a[v * w + u], mb += b[v * w + u], n += 1;
      Eigen::Vector3d gi;
      for (int k = 0; k < 3; ++k) gi(k) = I[k * hw + y * w + x];
      const Eigen::Vector3d q = (ma / n).transpose() * gi + mb / n;
      for (int c = 0; c < 3; ++c) out[c * hw + y * w + x] = static_cast<float>(q(c));
    }
  return Tensor::from_vector(out, guide.shape());
}

// RGB mean and covariance of an image's pixels.
std::pair<Eigen::Vector3d, Eigen::Matrix3d> colour_moments(const Tensor& image) {
  const auto v = image.contiguous().to_vector<float>();
  const size_t n = v.size() / 3;
  Eigen::MatrixXd X(3, n);
  for (size_t k = 0; k < 3; ++k)
    for (size_t i = 0; i < n; ++i) X(k, i) = v[k * n + i];
  const Eigen::Vector3d mean = X.rowwise().mean();
  const Eigen::MatrixXd centred = X.colwise() - mean;
  return {mean, centred * centred.transpose() / static_cast<double>(n - 1)};
}

}  // namespace

TEST_CASE("guided filter: equals the brute-force fit of every window, in strips and on 1 or 2 threads") {
  Generator g(31);
  const Tensor guide = Tensor::rand({1, 3, 19, 23}, g), source = Tensor::rand({1, 3, 19, 23}, g);
  for (int64_t r : {1, 2, 4})
    for (double eps : {1e-3, 1e-1}) {
      CAPTURE(r);
      CAPTURE(eps);
      const Tensor want = guided_filter_reference(guide, source, r, eps);
      const Tensor whole = guided_filter(guide, source, r, eps);
      CHECK(max_abs_diff(whole, want) < 2e-5);
      // Strips of 5 rows, each with its 2r rows of context: the whole image's result.
      CHECK(max_abs_diff(guided_filter(guide, source, r, eps, 5), whole) < 1e-6);
      const int threads = cpu::num_threads();
      cpu::set_num_threads(threads == 1 ? 2 : 1);
      const Tensor other = guided_filter(guide, source, r, eps);
      cpu::set_num_threads(threads);
      CHECK(max_abs_diff(other, whole) == 0);
    }
}

TEST_CASE("guided filter: keeps the guide's edges, flattens what the guide does not explain") {
  // Guide: a vertical step. Source: the same step plus fine noise. The output keeps the step (it is
  // in the guide) and loses most of the noise (it is not).
  Generator g(32);
  std::vector<float> step(3 * 24 * 24);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 24; ++y)
      for (int x = 0; x < 24; ++x) step[(c * 24 + y) * 24 + x] = x < 12 ? 0.2f : 0.8f;
  const Tensor guide = Tensor::from_vector(step, {1, 3, 24, 24});
  const Tensor noise = Tensor::rand({1, 3, 24, 24}, g, -0.05, 0.05);
  const Tensor out = guided_filter(guide, guide + noise, 3, 1e-3);
  const double left = mean(slice(out, 3, 0, 11)).item(), right = mean(slice(out, 3, 13, 24)).item();
  CHECK(left == doctest::Approx(0.2).epsilon(0.05));
  CHECK(right == doctest::Approx(0.8).epsilon(0.05));
  CHECK(max_abs_diff(out, guide) < 0.5 * max_abs_diff(guide + noise, guide));
  CHECK_THROWS_WITH_AS(guided_filter(guide, slice(guide, 2, 0, 10), 2, 1e-3), doctest::Contains("[1, 3, H, W]"), Error);
}

TEST_CASE("match_colors: the picture takes the style's RGB mean and covariance") {
  Generator g(33);
  // Mid-range colours, correlated (full rank) on both sides, so nothing clamps.
  const Tensor base = Tensor::rand({1, 1, 30, 40}, g, 0.4, 0.6);
  const Tensor picture = cat({base, base * 0.5 + Tensor::rand({1, 1, 30, 40}, g, 0.15, 0.25),
                              Tensor::rand({1, 1, 30, 40}, g, 0.3, 0.5)}, 1);
  const Tensor s = Tensor::rand({1, 1, 20, 20}, g, 0.45, 0.55);
  const Tensor style = cat({s, 1.0 - s + Tensor::rand({1, 1, 20, 20}, g, -0.02, 0.02),
                            Tensor::rand({1, 1, 20, 20}, g, 0.5, 0.6)}, 1);
  const auto [want_mean, want_cov] = colour_moments(style);
  const auto [got_mean, got_cov] = colour_moments(match_colors(picture, {{style, 1.0}}));
  CHECK((got_mean - want_mean).cwiseAbs().maxCoeff() < 1e-5);
  // WCT's kFusionEps on both covariances' diagonals moves the result by about that much.
  CHECK((got_cov - want_cov).cwiseAbs().maxCoeff() < 3 * kFusionEps);
  CHECK_THROWS_AS(match_colors(picture, {}), Error);
}

TEST_CASE("paint: the fusion methods finish (smoothing, colours); kept colours are not matched") {
  Generator gen(34);
  StyleModel m({"relu3_1", 0.125, 8}, standin_encoder().identity().str(), &gen);
  const Tensor photo = resize_image(load_image(sample_path("content_")), 48, 40);
  const std::vector<StyleImage> styles = {{resize_image(load_image(sample_path("style_")), 40, 40), 1.0}};
  PaintOptions o;
  o.method = Method::WCT;
  o.stylize.tile = 0;
  StylizeOptions so = o.stylize;
  so.method = FusionMethod::WCT;
  const Tensor raw = stylize(standin_encoder(), m, photo, styles, so);
  const Tensor painted = paint(standin_encoder(), &m, photo, styles, o);
  CHECK(max_abs_diff(painted, finish(raw, photo, styles, o.finish)) < 1e-6);
  CHECK(max_abs_diff(painted, raw) > 1e-2);  // finishing changed the picture
  o.finish = FinishOptions::none();
  CHECK(max_abs_diff(paint(standin_encoder(), &m, photo, styles, o), raw) == 0);
  // --preserve-color: the photo's chroma stays (smoothing moves it only a little), no style colours.
  o.finish = FinishOptions{};
  o.stylize.preserve_color = true;
  so.preserve_color = true;
  const Tensor kept = paint(standin_encoder(), &m, photo, styles, o);
  FinishOptions smooth_only;
  smooth_only.match_colors = false;
  CHECK(max_abs_diff(kept, finish(stylize(standin_encoder(), m, photo, styles, so), photo, styles, smooth_only)) < 1e-6);
}

TEST_CASE("prepare_styles: the default style size is twice the photo's short side, 128 to 512 px") {
  const Tensor style = Tensor::zeros({1, 3, 300, 1000});
  auto side_for = [&](int64_t photo_h, int64_t photo_w, int64_t style_size, int64_t size = 0) {
    PaintOptions o;
    o.style_size = style_size;
    o.size = size;
    const Tensor photo = Tensor::zeros({1, 3, photo_h, photo_w});
    const Tensor prepared = prepare_styles({{style, 1.0}}, o, photo)[0].image;
    CHECK(std::min(prepared.size(2), prepared.size(3)) == style_side(o, photo));
    return style_side(o, photo);
  };
  CHECK(side_for(64, 64, kAutoStyleSize) == 128);
  CHECK(side_for(100, 90, kAutoStyleSize) == 180);
  CHECK(side_for(400, 300, kAutoStyleSize) == 512);
  CHECK(side_for(1000, 2000, kAutoStyleSize, 80) == 160);  // the photo's side after --size
  CHECK(side_for(64, 64, 77) == 77);                        // an explicit size wins
  PaintOptions as_is;
  as_is.style_size = 0;
  CHECK(style_side(as_is, style) == 0);
  CHECK(prepare_styles({{style, 1.0}}, as_is, style)[0].image.size(3) == 1000);
  PaintOptions negative;
  negative.style_size = -5;
  CHECK_THROWS_WITH_AS(prepare_styles({{style, 1.0}}, negative, style), doctest::Contains("is negative"), Error);
}
