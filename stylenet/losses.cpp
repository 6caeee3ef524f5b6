#include "stylenet/losses.h"

#include <algorithm>

#include "stylenet/fusion.h"
#include "tensor/error.h"
#include "vision/image.h"

namespace sn {

namespace {

void check_features(const Tensor& F, const char* who) {
  SN_CHECK(F.defined() && F.dim() == 4, who, ": expected features [N, c, h, w]");
}

// mean((a - b)^2) with broadcasting (a target of batch 1 serves every image), as
// torch.nn.functional.mse_loss does after broadcasting.
Tensor mse_broadcast(const Tensor& a, const Tensor& b) { return mean(square(a - b)); }

}  // namespace

Tensor gram(const Tensor& F) {
  check_features(F, "gram");
  const int64_t n = F.size(0), c = F.size(1), hw = F.size(2) * F.size(3);
  const Tensor flat = reshape(F, {n, c, hw});
  return matmul(flat, transpose(flat, 1, 2)) / static_cast<double>(c * hw);
}

Tensor mean_std_loss(const Tensor& F, const Tensor& Fs) {
  check_features(F, "mean_std_loss");
  check_features(Fs, "mean_std_loss");
  SN_CHECK(F.size(1) == Fs.size(1), "mean_std_loss: ", F.size(1), " vs ", Fs.size(1), " channels");
  const auto [m, s] = channel_mean_std(F);
  const auto [ms, ss] = channel_mean_std(Fs);
  return mse_broadcast(m, ms) + mse_broadcast(s, ss);
}

Tensor gram_loss(const Tensor& F, const Tensor& Fs) {
  check_features(F, "gram_loss");
  check_features(Fs, "gram_loss");
  SN_CHECK(F.size(1) == Fs.size(1), "gram_loss: ", F.size(1), " vs ", Fs.size(1), " channels");
  return mse_broadcast(gram(F), gram(Fs));
}

Tensor content_loss(const Tensor& F, const Tensor& Ft) {
  SN_CHECK(F.defined() && Ft.defined() && F.shape() == Ft.shape(), "content_loss: shapes differ");
  return mse_loss(F, Ft);
}

Tensor total_variation(const Tensor& img) {
  SN_CHECK(img.defined() && img.dim() == 4 && img.size(2) >= 2 && img.size(3) >= 2,
           "total_variation: expected an image [N, C, H, W] with H, W >= 2");
  const int64_t H = img.size(2), W = img.size(3);
  const Tensor dy = slice(img, 2, 1, H) - slice(img, 2, 0, H - 1);
  const Tensor dx = slice(img, 3, 1, W) - slice(img, 3, 0, W - 1);
  return mean(square(dy)) + mean(square(dx));
}

Tensor laplacian_loss(const Tensor& img, const Tensor& photo, int64_t pool) {
  SN_CHECK(pool >= 1, "laplacian_loss: pool must be >= 1, got ", pool);
  for (const Tensor* t : {&img, &photo}) {
    SN_CHECK(t->defined() && t->dim() == 4 && t->size(1) == 3 && t->size(2) >= 3 * pool && t->size(3) >= 3 * pool,
             "laplacian_loss: expected images [N, 3, H, W] with H, W >= ", 3 * pool);
  }
  SN_CHECK(img.size(2) == photo.size(2) && img.size(3) == photo.size(3), "laplacian_loss: image and photo sizes differ");
  // Pooling and the luma-weighted Laplacian are both linear per channel, so one 3-in, 1-out conv
  // after the pool computes L(P(y(x))): weight[0][c] = luma[c] * Laplacian.
  static constexpr double kLaplacian[9] = {0, 1, 0, 1, -4, 1, 0, 1, 0};
  std::vector<double> w(27);
  for (int c = 0; c < 3; ++c)
    for (int k = 0; k < 9; ++k) w[c * 9 + k] = kLumaWeights[c] * kLaplacian[k];
  const Tensor weight = Tensor::from_doubles(w, {1, 3, 3, 3}, img.dtype()).to(img.device());
  auto lap = [&](const Tensor& x) {
    return conv2d(pool > 1 ? avg_pool2d(x, Pool2dOptions{.kernel = {pool, pool}}) : x, weight);
  };
  return mse_broadcast(lap(img), lap(photo));
}

std::vector<std::string> loss_taps(const StyleLossConfig& config) {
  std::vector<std::string> taps = config.style_taps;
  if (std::find(taps.begin(), taps.end(), config.content_tap) == taps.end()) taps.push_back(config.content_tap);
  return taps;
}

LossTerms style_transfer_loss(const std::map<std::string, Tensor>& out, const Tensor& content_target,
                              const std::map<std::string, Tensor>& style, const Tensor& image,
                              const StyleLossConfig& config, const Tensor& photo_target,
                              const Tensor& photo_image) {
  auto at = [](const std::map<std::string, Tensor>& m, const std::string& tap, const char* which) {
    const auto it = m.find(tap);
    SN_CHECK(it != m.end(), "style_transfer_loss: no ", which, " features at tap ", tap);
    return it->second;
  };
  const LossWeights& w = config.weights;
  LossTerms t;
  t.content = content_loss(at(out, config.content_tap, "output"), content_target);
  t.total = t.content * w.content;
  if (w.style != 0 || w.gram != 0) {
    for (const std::string& tap : config.style_taps) {
      const Tensor o = at(out, tap, "output"), s = at(style, tap, "style");
      if (w.style != 0) t.style = t.style.defined() ? t.style + mean_std_loss(o, s) : mean_std_loss(o, s);
      if (w.gram != 0) t.gram = t.gram.defined() ? t.gram + gram_loss(o, s) : gram_loss(o, s);
    }
  }
  if (t.style.defined()) t.total = t.total + t.style * w.style;
  if (t.gram.defined()) t.total = t.total + t.gram * w.gram;
  if (w.tv != 0) {
    t.tv = total_variation(image);
    t.total = t.total + t.tv * w.tv;
  }
  if (w.photo != 0) {
    SN_CHECK(photo_target.defined(), "style_transfer_loss: a photo weight needs the photo's features");
    t.photo = content_loss(at(out, config.content_tap, "output"), photo_target);
    t.total = t.total + t.photo * w.photo;
  }
  if (w.laplacian != 0) {
    SN_CHECK(photo_image.defined(), "style_transfer_loss: a Laplacian weight needs the photo");
    t.laplacian = laplacian_loss(image, photo_image, config.laplacian_pool);
    t.total = t.total + t.laplacian * w.laplacian;
  }
  return t;
}

}  // namespace sn
