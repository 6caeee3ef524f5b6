// GAN losses against their formulas evaluated element by element in double, their gradients
// by finite differences, the discriminator accuracy, and the image pool's behaviour and resume.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "autograd/gradcheck.h"
#include "training/gan.h"
#include "tests/tensor_compare.h"

using namespace sn;
using sn::test::max_abs_diff;

namespace {

std::vector<Tensor> random_logits(Generator& gen, DType dtype = DType::Float32) {
  // Two scales of different sizes, values spread around both decision thresholds.
  std::vector<Tensor> out = {Tensor::randn({2, 1, 5, 4}, gen) * 1.5, Tensor::randn({2, 1, 2, 2}, gen) * 1.5};
  for (Tensor& t : out) t = t.to(dtype);
  return out;
}

// mean over scales of mean over patches of f(v)
template <class F>
double reference(const std::vector<Tensor>& logits, F f) {
  double total = 0;
  for (const Tensor& l : logits) {
    double s = 0;
    const auto v = l.contiguous().to_vector<float>();
    for (float x : v) s += f(static_cast<double>(x));
    total += s / static_cast<double>(v.size());
  }
  return total / static_cast<double>(logits.size());
}

}  // namespace

TEST_CASE("gan: LSGAN and hinge losses match their formulas") {
  Generator gen(3);
  const auto real = random_logits(gen), fake = random_logits(gen);
  const double ls_d = reference(real, [](double x) { return (x - 1) * (x - 1); }) + reference(fake, [](double x) { return x * x; });
  const double ls_g = reference(fake, [](double x) { return (x - 1) * (x - 1); });
  const double hi_d = reference(real, [](double x) { return std::max(0.0, 1 - x); }) +
                      reference(fake, [](double x) { return std::max(0.0, 1 + x); });
  const double hi_g = reference(fake, [](double x) { return -x; });
  CHECK(discriminator_loss(GanLoss::LSGAN, real, fake).item() == doctest::Approx(ls_d).epsilon(1e-5));
  CHECK(generator_loss(GanLoss::LSGAN, fake).item() == doctest::Approx(ls_g).epsilon(1e-5));
  CHECK(discriminator_loss(GanLoss::Hinge, real, fake).item() == doctest::Approx(hi_d).epsilon(1e-5));
  CHECK(generator_loss(GanLoss::Hinge, fake).item() == doctest::Approx(hi_g).epsilon(1e-5));
  CHECK(parse_gan_loss(gan_loss_name(GanLoss::Hinge)) == GanLoss::Hinge);
  CHECK_THROWS_AS(parse_gan_loss("wgan"), Error);
  CHECK_THROWS_AS(generator_loss(GanLoss::LSGAN, {}), Error);
}

TEST_CASE("gan: loss gradients pass finite differences") {
  Generator gen(5);
  for (GanLoss loss : {GanLoss::LSGAN, GanLoss::Hinge}) {
    CAPTURE(gan_loss_name(loss));
    auto real = random_logits(gen, DType::Float64), fake = random_logits(gen, DType::Float64);
    for (Tensor& t : real) t.set_requires_grad(true);
    for (Tensor& t : fake) t.set_requires_grad(true);
    const auto d = gradcheck(
        [&](const std::vector<Tensor>& x) { return discriminator_loss(loss, {x[0], x[1]}, {x[2], x[3]}); },
        {real[0], real[1], fake[0], fake[1]});
    CHECK_MESSAGE(d.ok, d.message);
    const auto g = gradcheck([&](const std::vector<Tensor>& x) { return generator_loss(loss, {x[0], x[1]}); },
                             {fake[0], fake[1]});
    CHECK_MESSAGE(g.ok, g.message);
  }
}

TEST_CASE("gan: discriminator accuracy counts patches on the right side of the threshold") {
  const std::vector<Tensor> real = {Tensor::from_vector(std::vector<float>{0.9f, 0.2f, 0.7f, 0.6f}, {1, 1, 2, 2})};
  const std::vector<Tensor> fake = {Tensor::from_vector(std::vector<float>{0.1f, 0.8f, -0.3f, 0.4f}, {1, 1, 2, 2})};
  const auto ls = discriminator_accuracy(GanLoss::LSGAN, real, fake);  // threshold 0.5
  CHECK(ls.real == doctest::Approx(0.75));
  CHECK(ls.fake == doctest::Approx(0.75));
  const auto hi = discriminator_accuracy(GanLoss::Hinge, real, fake);  // threshold 0
  CHECK(hi.real == doctest::Approx(1.0));
  CHECK(hi.fake == doctest::Approx(0.25));
}

TEST_CASE("gan: image pool fills, then mixes history in, and resumes identically") {
  Generator gen(9);
  auto batch = [&](float tag) { return Tensor::full({2, 3, 4, 4}, tag); };
  ImagePool pool(4, 77);
  // Filling: the new images come straight back.
  CHECK(max_abs_diff(pool.query(batch(1), 1), batch(1)) == 0);
  CHECK(max_abs_diff(pool.query(batch(2), 2), batch(2)) == 0);
  CHECK(pool.size() == 4);
  // Full: over many steps some returned images are older ones, about half of them.
  ImagePool copy(4, 77);
  copy.load_state_dict(pool.state_dict());
  int64_t old = 0, total = 0;
  for (int64_t step = 3; step < 103; ++step) {
    const Tensor out = pool.query(batch(static_cast<float>(step)), step);
    const Tensor again = copy.query(batch(static_cast<float>(step)), step);
    REQUIRE(max_abs_diff(out, again) == 0);  // same state + same step = same draws
    for (int64_t i = 0; i < 2; ++i) {
      old += slice(out, 0, i, i + 1).contiguous().to_vector<float>()[0] != static_cast<float>(step);
      ++total;
    }
    CHECK(pool.size() == 4);
  }
  CHECK(old > total / 4);
  CHECK(old < 3 * total / 4);
  // Capacity 0 passes images through; a changed image size is an error.
  ImagePool none(0, 1);
  CHECK(max_abs_diff(none.query(batch(5), 1), batch(5)) == 0);
  CHECK_THROWS_AS(pool.query(Tensor::zeros({1, 3, 8, 8}), 200), Error);
}
