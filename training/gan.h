// The adversarial part of training: GAN losses on a discriminator's patch logits, its accuracy,
// and the history buffer of generated images it is trained on.
//
// Logits come as one map per discriminator scale (Discriminator::forward_scales); every loss is
// the mean over patches, averaged over scales, so adding a scale does not change its weight.
//
//   LSGAN (Mao et al. 2017):  D: mean((D(real) - 1)^2) + mean(D(fake)^2)     G: mean((D(fake) - 1)^2)
//                             (halved in neither, as pix2pix/CycleGAN's GANLoss: MSE to 1 or 0)
//   hinge (Lim & Ye 2017):    D: mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))   G: -mean(D(fake))
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "autograd/nn_ops.h"
#include "tensor/random.h"
#include "tensor/tensor_dict.h"

namespace sn {

enum class GanLoss { LSGAN, Hinge };
GanLoss parse_gan_loss(const std::string& name);  // "lsgan" or "hinge"; throws otherwise
std::string gan_loss_name(GanLoss loss);

// What D minimises: real patches towards "real", fake ones towards "fake".
Tensor discriminator_loss(GanLoss loss, const std::vector<Tensor>& real_logits, const std::vector<Tensor>& fake_logits);
// What the generator minimises: its images' patches towards "real".
Tensor generator_loss(GanLoss loss, const std::vector<Tensor>& fake_logits);

// Fraction of patches D puts on the right side of its decision threshold (0.5 for LSGAN, whose
// targets are 0 and 1; 0 for hinge), over all scales. Healthy adversarial training keeps both
// well away from 1 (D winning outright) and from 0.5 (D guessing).
struct DiscriminatorAccuracy {
  double real = 0, fake = 0;
};
DiscriminatorAccuracy discriminator_accuracy(GanLoss loss, const std::vector<Tensor>& real_logits,
                                             const std::vector<Tensor>& fake_logits);

// CycleGAN's image pool (Shrivastava et al. 2017): D sees a mix of the newest generated images
// and older ones, so it does not chase the generator's latest mode. Until the pool is full each
// new image goes in and is returned; after that, with probability 1/2 a random stored image is
// returned in its place (and the new one stored instead). Draws come from a generator seeded by
// (seed, step), and the stored images are part of the state, so a resumed run draws the same.
class ImagePool {
 public:
  ImagePool(int64_t capacity, uint64_t seed);

  // images [N, 3, h, w] (detached) -> the batch D should see as fake, same shape.
  Tensor query(const Tensor& images, int64_t step);

  int64_t size() const { return static_cast<int64_t>(images_.size()); }
  int64_t capacity() const { return capacity_; }

  // "images" [size, 3, h, w] (absent while empty) for checkpoints.
  TensorDict state_dict() const;
  void load_state_dict(const TensorDict& dict);

 private:
  int64_t capacity_;
  uint64_t seed_;
  std::vector<Tensor> images_;  // each [1, 3, h, w]
};

}  // namespace sn
