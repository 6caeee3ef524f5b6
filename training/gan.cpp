#include "training/gan.h"

#include "tensor/error.h"

namespace sn {

namespace {

void check_logits(const std::vector<Tensor>& logits, const char* who) {
  SN_CHECK(!logits.empty(), who, ": no discriminator logits");
  for (const Tensor& l : logits) SN_CHECK(l.defined() && l.numel() > 0, who, ": empty logits");
}

// The mean over scales of f(logits of one scale).
template <class F>
Tensor over_scales(const std::vector<Tensor>& logits, F f) {
  Tensor total;
  for (const Tensor& l : logits) total = total.defined() ? total + f(l) : f(l);
  return total / static_cast<double>(logits.size());
}

// Fraction of entries of x above (or below) t.
double fraction(const std::vector<Tensor>& logits, double t, bool above) {
  int64_t hits = 0, n = 0;
  for (const Tensor& l : logits) {
    for (float v : l.contiguous().to_vector<float>()) hits += above ? (v > t) : (v < t);
    n += l.numel();
  }
  return static_cast<double>(hits) / static_cast<double>(n);
}

}  // namespace

GanLoss parse_gan_loss(const std::string& name) {
  if (name == "lsgan") return GanLoss::LSGAN;
  if (name == "hinge") return GanLoss::Hinge;
  throw Error("unknown GAN loss '" + name + "' (choose lsgan or hinge)");
}

std::string gan_loss_name(GanLoss loss) { return loss == GanLoss::LSGAN ? "lsgan" : "hinge"; }

Tensor discriminator_loss(GanLoss loss, const std::vector<Tensor>& real, const std::vector<Tensor>& fake) {
  check_logits(real, "discriminator_loss");
  check_logits(fake, "discriminator_loss");
  if (loss == GanLoss::LSGAN)
    return over_scales(real, [](const Tensor& l) { return mean(square(l - 1.0)); }) +
           over_scales(fake, [](const Tensor& l) { return mean(square(l)); });
  return over_scales(real, [](const Tensor& l) { return mean(relu(1.0 - l)); }) +
         over_scales(fake, [](const Tensor& l) { return mean(relu(l + 1.0)); });
}

Tensor generator_loss(GanLoss loss, const std::vector<Tensor>& fake) {
  check_logits(fake, "generator_loss");
  if (loss == GanLoss::LSGAN) return over_scales(fake, [](const Tensor& l) { return mean(square(l - 1.0)); });
  return over_scales(fake, [](const Tensor& l) { return -mean(l); });
}

DiscriminatorAccuracy discriminator_accuracy(GanLoss loss, const std::vector<Tensor>& real,
                                             const std::vector<Tensor>& fake) {
  check_logits(real, "discriminator_accuracy");
  check_logits(fake, "discriminator_accuracy");
  const double t = loss == GanLoss::LSGAN ? 0.5 : 0.0;
  return {fraction(real, t, true), fraction(fake, t, false)};
}

ImagePool::ImagePool(int64_t capacity, uint64_t seed) : capacity_(capacity), seed_(seed) {
  SN_CHECK(capacity >= 0, "ImagePool: capacity must be >= 0, got ", capacity);
}

Tensor ImagePool::query(const Tensor& images, int64_t step) {
  SN_CHECK(images.defined() && images.dim() == 4, "ImagePool: expected images [N, C, H, W]");
  if (capacity_ == 0) return images.detach();
  SN_CHECK(images_.empty() || (images_.front().shape()[1] == images.size(1) &&
                                   images_.front().shape()[2] == images.size(2) &&
                                   images_.front().shape()[3] == images.size(3)),
           "ImagePool: image size changed from ", shape_str(images_.front().shape()), " to ", shape_str(images.shape()));
  Generator gen(seed_ ^ 0x9e3779b97f4a7c15ULL, static_cast<uint64_t>(step));
  std::vector<Tensor> out;
  for (int64_t i = 0; i < images.size(0); ++i) {
    const Tensor img = slice(images, 0, i, i + 1).detach().contiguous();
    if (size() < capacity_) {
      images_.push_back(img);
      out.push_back(img);
    } else if (gen.uniform() < 0.5) {
      const uint64_t j = gen.below(static_cast<uint64_t>(capacity_));
      out.push_back(images_[j]);
      images_[j] = img;
    } else {
      out.push_back(img);
    }
  }
  return cat(out, 0);
}

TensorDict ImagePool::state_dict() const {
  TensorDict d;
  if (!images_.empty()) d.insert("images", cat(images_, 0));
  return d;
}

void ImagePool::load_state_dict(const TensorDict& dict) {
  images_.clear();
  const Tensor* all = dict.find("images");
  if (!all) return;
  SN_CHECK(all->dim() == 4 && all->size(0) <= capacity_, "ImagePool: stored images ", shape_str(all->shape()),
           " do not fit a pool of ", capacity_);
  for (int64_t i = 0; i < all->size(0); ++i) images_.push_back(slice(*all, 0, i, i + 1).contiguous());
}

}  // namespace sn
