// `stylenet eval`'s measures: edge SSIM against a direct (non-separable) computation and its
// defining properties, and evaluate_methods' rows, including the two diagnostics
// (decoded-optimize, reconstruct) and the per-tap split of the style loss.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/grad_mode.h"
#include "vision/data.h"
#include "training/evaluate.h"
#include "vision/image.h"
#include "stylenet/optimize.h"
#include "tensor/random.h"
#include "tests/style_fixtures.h"
#include "tests/tensor_compare.h"

using namespace sn;
using sn::test::max_abs_diff;

namespace {

// SSIM of Sobel magnitudes written the long way: a 2-D 11 x 11 Gaussian window summed over the
// pixels inside the image and renormalised by the weight inside, per pixel.
double direct_edge_ssim(const Tensor& a, const Tensor& b) {
  const int64_t h = a.size(2), w = a.size(3);
  auto edges = [&](const Tensor& img) {
    const auto v = img.contiguous().to_vector<float>();
    auto y = [&](int64_t r, int64_t c) {
      r = std::clamp<int64_t>(r, 0, h - 1), c = std::clamp<int64_t>(c, 0, w - 1);
      const int64_t i = r * w + c;
      return 0.299 * v[i] + 0.587 * v[h * w + i] + 0.114 * v[2 * h * w + i];
    };
    std::vector<double> e(h * w);
    for (int64_t r = 0; r < h; ++r)
      for (int64_t c = 0; c < w; ++c) {
        double gx = 0, gy = 0;
        const int k[3] = {1, 2, 1};
        for (int d = -1; d <= 1; ++d) {
          gx += k[d + 1] * (y(r + d, c + 1) - y(r + d, c - 1));
          gy += k[d + 1] * (y(r + 1, c + d) - y(r - 1, c + d));
        }
        e[r * w + c] = std::hypot(gx, gy);
      }
    return e;
  };
  const auto ea = edges(a), eb = edges(b);
  const double c1 = 0.04 * 0.04, c2 = 0.12 * 0.12;
  double total = 0;
  for (int64_t r = 0; r < h; ++r)
    for (int64_t c = 0; c < w; ++c) {
      double n = 0, ma = 0, mb = 0, saa = 0, sbb = 0, sab = 0;
      for (int64_t dr = -5; dr <= 5; ++dr)
        for (int64_t dc = -5; dc <= 5; ++dc) {
          const int64_t rr = r + dr, cc = c + dc;
          if (rr < 0 || rr >= h || cc < 0 || cc >= w) continue;
          const double k = std::exp(-(dr * dr + dc * dc) / (2 * 1.5 * 1.5));
          const double x = ea[rr * w + cc], z = eb[rr * w + cc];
          n += k, ma += k * x, mb += k * z, saa += k * x * x, sbb += k * z * z, sab += k * x * z;
        }
      ma /= n, mb /= n, saa /= n, sbb /= n, sab /= n;
      const double va = saa - ma * ma, vb = sbb - mb * mb, cov = sab - ma * mb;
      total += (2 * ma * mb + c1) * (2 * cov + c2) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
    }
  return total / static_cast<double>(h * w);
}

Tensor sample_image(const std::string& prefix, size_t index, int64_t size) {
  return sn::test::sample_image(prefix, index, size, size);
}

}  // namespace

TEST_CASE("edge SSIM: the direct computation, 1 for the same edges, lower for lost or moved edges") {
  const Tensor photo = sample_image("content_", 0, 37);  // odd size: borders on every side
  Generator gen(11);
  const Tensor noisy = clamp(photo + Tensor::randn(photo.shape(), gen) * 0.05, 0.0, 1.0);
  CHECK(edge_ssim(photo, noisy) == doctest::Approx(direct_edge_ssim(photo, noisy)).epsilon(1e-9));
  CHECK(edge_ssim(noisy, photo) == doctest::Approx(edge_ssim(photo, noisy)).epsilon(1e-12));  // symmetric
  CHECK(edge_ssim(photo, photo) == doctest::Approx(1.0).epsilon(1e-12));
  // A uniform brightness shift leaves the Sobel edges, so SSIM stays 1 (no clamping: mid-range).
  const Tensor mid = photo * 0.5 + 0.2;
  CHECK(edge_ssim(mid, mid + 0.1) == doctest::Approx(1.0).epsilon(1e-6));
  // Blurring loses edges; shifting the photo by 3 pixels moves them: both score lower, and a flat
  // grey image (no edges at all) lowest.
  const Tensor blurred = resize_image(resize_image(photo, 9, 9), 37, 37);
  const Tensor shifted = contiguous(slice(photo, 3, 3, 37));
  const double s_blur = edge_ssim(photo, blurred);
  const double s_shift = edge_ssim(contiguous(slice(photo, 3, 0, 34)), shifted);
  const double s_flat = edge_ssim(photo, Tensor::full(photo.shape(), 0.5));
  CHECK(s_blur < 0.8);
  CHECK(s_shift < 0.8);
  CHECK(s_flat < s_blur);
  CHECK(s_flat < 0.05);
  CHECK_THROWS_AS(edge_ssim(photo, shifted), Error);
}

TEST_CASE("eval: rows per method, the style loss split per tap, refinement and the decoder diagnostics") {
  Generator gen(13);
  StyleModel model({"relu3_1", 0.125, 8}, sn::test::standin_encoder().identity().str(), &gen);
  const std::vector<Tensor> contents = {sample_image("content_", 0, 40), sample_image("content_", 1, 40)};
  const std::vector<Tensor> styles = {sample_image("style_", 0, 40)};
  EvalOptions opt;
  opt.size = 32;
  opt.optimize_steps = 4;
  opt.methods = {Method::DecodedOptimize, Method::Optimize, Method::Reconstruct, Method::AdaIN, Method::Learned, Method::Refine};
  const auto rows = evaluate_methods(sn::test::standin_encoder(), model, contents, styles, opt);
  REQUIRE(rows.size() == 6);
  for (const auto& row : rows) {
    CAPTURE(method_name(row.method));
    REQUIRE(row.results.size() == 2);
    REQUIRE(row.mean.style_per_tap.size() == opt.loss.style_taps.size());
    double taps = 0;
    for (double t : row.mean.style_per_tap) taps += t;
    CHECK(taps == doctest::Approx(row.mean.style).epsilon(1e-9));
    CHECK(row.mean.seconds > 0);
  }
  const auto& decoded = rows[0];
  const auto& optimized = rows[1];
  const auto& reconstructed = rows[2];
  const auto& learned = rows[4];
  const auto& refined = rows[5];
  StylizeOptions alpha0;
  alpha0.alpha = 0;
  alpha0.tile = 0;
  for (size_t i = 0; i < contents.size(); ++i) {
    const Tensor photo = resize_image(contents[i], 32, 32);
    // reconstruct: the photo through the model's encoder and decoder; decoded-optimize: the very
    // optimum that the optimize row shows (made once), through them.
    CHECK(max_abs_diff(reconstructed.results[i][0], stylize(sn::test::standin_encoder(), model, photo, {{styles[0], 1.0}}, alpha0)) == 0.0);
    CHECK(max_abs_diff(decoded.results[i][0], stylize(sn::test::standin_encoder(), model, optimized.results[i][0], {{styles[0], 1.0}}, alpha0)) ==
          0.0);
    CHECK(max_abs_diff(optimized.results[i][0], photo) > 1e-3);  // the optimisation did move
    CHECK(max_abs_diff(refined.results[i][0], learned.results[i][0]) > 1e-3);
  }
  // refine starts from the learned result and lowers the style loss it is optimised for.
  CHECK(refined.mean.style < 0.8 * learned.mean.style);
  const std::string table = eval_table(rows, opt.loss.style_taps);
  CHECK(table.find("| relu1_2 | relu2_2 | relu3_3 | relu4_3 |") != std::string::npos);
  CHECK(table.find("| decoded-optimize |") != std::string::npos);
}

TEST_CASE("eval: the strength at the model's tap reaches the feed-forward methods") {
  Generator gen(17);
  StyleModel model({"relu3_1", 0.125, 8}, sn::test::standin_encoder().identity().str(), &gen);
  const std::vector<Tensor> contents = {sample_image("content_", 0, 40)};
  const std::vector<Tensor> styles = {sample_image("style_", 0, 40)};
  EvalOptions opt;
  opt.size = 32;
  opt.methods = {Method::Reconstruct, Method::WCT};
  opt.alpha = 0;  // WCT at strength 0 keeps the photo's own features: the reconstruction
  opt.finish = FinishOptions::none();  // which is the decoder's output, unfinished
  auto rows = evaluate_methods(sn::test::standin_encoder(), model, contents, styles, opt);
  CHECK(max_abs_diff(rows[1].results[0][0], rows[0].results[0][0]) == 0.0);
  opt.alpha = 0.5;
  rows = evaluate_methods(sn::test::standin_encoder(), model, contents, styles, opt);
  CHECK(max_abs_diff(rows[1].results[0][0], rows[0].results[0][0]) > 1e-3);
}

TEST_CASE("optimisation with the Laplacian term keeps the photo's edges better") {
  const Tensor photo = sample_image("content_", 2, 48);
  const Tensor style = sample_image("style_", 1, 48);
  OptimizeOptions plain;
  plain.steps = 20;
  OptimizeOptions edges = plain;
  edges.loss.weights.laplacian = 50;
  const Tensor a = optimize_image(sn::test::standin_encoder(), photo, {{style, 1.0}}, plain);
  const Tensor b = optimize_image(sn::test::standin_encoder(), photo, {{style, 1.0}}, edges);
  CAPTURE(edge_ssim(a, photo));
  CAPTURE(edge_ssim(b, photo));
  CHECK(edge_ssim(b, photo) > edge_ssim(a, photo) + 0.02);
}
