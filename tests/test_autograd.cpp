// The autograd engine's contract: accumulation, no-grad, freeing, retain_grad, and loud misuse.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/nn_ops.h"
#include "tensor/random.h"

using namespace sn;

namespace {
Tensor leaf(const Shape& shape, uint64_t seed = 3) {
  Generator g(seed);
  Tensor t = Tensor::randn(shape, g);
  t.set_requires_grad(true);
  return t;
}
std::vector<double> vals(const Tensor& t) { return t.to_vector<double>(); }
}  // namespace

TEST_CASE("a tensor used twice gets the sum of both gradients (diamond graph)") {
  Tensor x = leaf({3});
  Tensor y = x * x + exp(x);  // dy/dx = 2x + e^x
  backward(sum(y));
  const auto xv = vals(x), gv = vals(x.grad());
  for (size_t i = 0; i < xv.size(); ++i) CHECK(gv[i] == doctest::Approx(2 * xv[i] + std::exp(xv[i])));
}

TEST_CASE("gradients accumulate across backward calls until cleared") {
  Tensor x = leaf({2});
  backward(sum(x * 3.0));
  backward(sum(x * 3.0));
  CHECK(vals(x.grad()) == std::vector<double>{6, 6});
  x.set_grad(Tensor());
  backward(sum(x));
  CHECK(vals(x.grad()) == std::vector<double>{1, 1});
}

// A leaf's first gradient is kept without a copy only when nothing else holds its memory: here
// add's backward hands the same gradient (the caller's own tensor) to both leaves.
TEST_CASE("a leaf's .grad never shares memory with another leaf's or the caller's tensors") {
  Tensor a = leaf({3}, 1), b = leaf({3}, 2), c = leaf({3}, 4);
  const Tensor g = Tensor::from_vector(std::vector<float>{1, 2, 3}, {3});
  backward(a + b, g);
  REQUIRE(vals(a.grad()) == std::vector<double>{1, 2, 3});
  REQUIRE(vals(b.grad()) == std::vector<double>{1, 2, 3});
  CHECK(a.grad().storage() != b.grad().storage());
  CHECK(a.grad().storage() != g.storage());
  CHECK(b.grad().storage() != g.storage());
  backward(a * 2.0, g);  // accumulates in place into a.grad
  CHECK(vals(a.grad()) == std::vector<double>{3, 6, 9});
  CHECK(vals(b.grad()) == std::vector<double>{1, 2, 3});
  CHECK(vals(g) == std::vector<double>{1, 2, 3});
  // A fresh gradient nothing else holds becomes .grad itself, and stays correct when accumulated.
  backward(sum(c * c));
  const auto cv = vals(c);
  backward(sum(c * c));
  for (size_t i = 0; i < cv.size(); ++i) CHECK(vals(c.grad())[i] == doctest::Approx(4 * cv[i]));
}

TEST_CASE("retain_graph allows a second backward; without it the second one throws") {
  Tensor x = leaf({2});
  Tensor y = sum(exp(x));
  backward(y, Tensor(), /*retain_graph=*/true);
  backward(y);
  CHECK(vals(x.grad())[0] == doctest::Approx(2 * std::exp(vals(x)[0])));
  CHECK_THROWS_WITH_AS(backward(y), doctest::Contains("second time"), Error);
  CHECK_THROWS_WITH_AS(backward(y), doctest::Contains("op 'sum'"), Error);
}

TEST_CASE("backward frees the saved activations") {
  Tensor x = leaf({1000});
  std::weak_ptr<Storage> saved;
  Tensor loss;
  {
    Tensor y = exp(x);  // exp's backward saves its output
    saved = y.storage();
    loss = sum(y);
  }
  CHECK_FALSE(saved.expired());  // kept alive by the graph only
  backward(loss);
  CHECK(saved.expired());
}

TEST_CASE("no-grad mode records nothing and keeps nothing alive") {
  Tensor x = leaf({100});
  std::weak_ptr<Storage> inter;
  Tensor out;
  {
    NoGradGuard guard;
    CHECK_FALSE(grad_enabled());
    Tensor y = exp(x);
    inter = y.storage();
    out = sum(y * 2.0);
  }
  CHECK(grad_enabled());
  CHECK(inter.expired());
  CHECK_FALSE(out.requires_grad());
  CHECK(out.grad_fn() == nullptr);
  CHECK_THROWS_WITH_AS(backward(out), doctest::Contains("does not require grad"), Error);
}

TEST_CASE("retain_grad keeps the gradient of a non-leaf; grad() leaves .grad untouched") {
  Tensor x = leaf({3});
  Tensor h = x * 2.0;
  h.retain_grad();
  Tensor y = sum(h * h);
  const auto g = grad({y}, {x, h}, {}, /*retain_graph=*/true);
  CHECK_FALSE(x.grad().defined());
  CHECK_FALSE(h.grad().defined());
  backward(y);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(vals(h.grad())[i] == doctest::Approx(2 * vals(h)[i]));
    CHECK(vals(x.grad())[i] == doctest::Approx(4 * vals(h)[i]));
    CHECK(vals(g[0])[i] == doctest::Approx(vals(x.grad())[i]));
    CHECK(vals(g[1])[i] == doctest::Approx(vals(h.grad())[i]));
  }
}

TEST_CASE("non-differentiable uses stop the gradient") {
  Tensor x = leaf({4});
  const Tensor mask = gt(x, Tensor::scalar(0.0));
  CHECK_FALSE(mask.requires_grad());
  Tensor d = x.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.storage() == x.storage());
  backward(sum(x * mask));
  CHECK(vals(x.grad()) == vals(mask));
  CHECK_THROWS_WITH_AS(backward(sum(d)), doctest::Contains("does not require grad"), Error);
}

TEST_CASE("a very deep graph does not overflow the stack") {
  Tensor x = Tensor::ones({1}, DType::Float64);
  x.set_requires_grad(true);
  Tensor y = x;
  for (int i = 0; i < 20000; ++i) y = y * 1.0001;
  backward(sum(y));
  CHECK(x.grad().item() == doctest::Approx(std::pow(1.0001, 20000)));
}

TEST_CASE("a vector output needs an explicit gradient of its shape") {
  Tensor x = leaf({3});
  Tensor y = x * 2.0;
  CHECK_THROWS_WITH_AS(backward(y), doctest::Contains("[3]"), Error);
  CHECK_THROWS_WITH_AS(backward(y, Tensor::ones({4})), doctest::Contains("[4]"), Error);
  backward(y, Tensor::full({3}, 0.5));
  CHECK(vals(x.grad()) == std::vector<double>{1, 1, 1});
}

TEST_CASE("misuse fails loudly with the op and the shapes in the message") {
  const Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  CHECK_THROWS_WITH_AS(add(a, b), doctest::Contains("add: shapes [2, 3] and [4]"), Error);
  CHECK_THROWS_WITH_AS(matmul(a, a), doctest::Contains("matmul: inner dimensions differ: [2, 3] @ [2, 3]"), Error);
  CHECK_THROWS_WITH_AS(sum(a, {2}), doctest::Contains("sum: dim 2 is out of range"), Error);
  CHECK_THROWS_WITH_AS(transpose(a, 0, -3), doctest::Contains("transpose: dim -3"), Error);
  CHECK_THROWS_WITH_AS(reshape(a, {4, 2}), doctest::Contains("reshape: cannot reshape a tensor of shape [2, 3]"), Error);
  CHECK_THROWS_WITH_AS(select(a, 0, 2), doctest::Contains("select: index 2"), Error);
  CHECK_THROWS_WITH_AS(expand(a, {2, 4}), doctest::Contains("expand: cannot expand shape [2, 3]"), Error);
  CHECK_THROWS_WITH_AS(cat({a, b}, 0), doctest::Contains("cat"), Error);
  CHECK_THROWS_WITH_AS(add(a, Tensor::zeros({2, 3}, DType::Float64)), doctest::Contains("dtype mismatch"), Error);
  CHECK_THROWS_WITH_AS(a.item(), doctest::Contains("item"), Error);
  CHECK_THROWS_WITH_AS(Tensor::zeros({-1}), doctest::Contains("negative size"), Error);
  CHECK_THROWS_WITH_AS(conv2d(Tensor::zeros({1, 3, 8, 8}), Tensor::zeros({16, 4, 3, 3})),
                       doctest::Contains("conv2d"), Error);
  CHECK_THROWS_WITH_AS(conv2d(Tensor::zeros({3, 8, 8}), Tensor::zeros({16, 3, 3, 3})),
                       doctest::Contains("[3, 8, 8]"), Error);
  Tensor x = leaf({2});
  Tensor y = x * 2.0;
  CHECK_THROWS_WITH_AS(y.set_requires_grad(false), doctest::Contains("leaf"), Error);
  CHECK_THROWS_WITH_AS(Tensor().shape(), doctest::Contains("undefined"), Error);
}

TEST_CASE("float64 and float32 both flow through the graph") {
  Generator g(5);
  Tensor x = Tensor::randn({4}, g, DType::Float64);
  x.set_requires_grad(true);
  backward(sum(tanh(x)));
  CHECK(x.grad().dtype() == DType::Float64);
}
