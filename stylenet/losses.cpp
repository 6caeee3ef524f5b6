#include "stylenet/losses.h"

#include "stylenet/fusion.h"
#include "tensor/error.h"

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

}  // namespace sn
