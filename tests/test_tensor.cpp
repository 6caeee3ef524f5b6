// Tensor storage, views, broadcasting and the reference kernels' plain semantics.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/ops.h"
#include "tensor/cpu/parallel.h"
#include "tensor/kernels/core.h"
#include "tensor/random.h"

using namespace sn;

namespace {
std::vector<double> vals(const Tensor& t) { return t.to_vector<double>(); }
}  // namespace

TEST_CASE("PCG32 matches the reference implementation's published sequence") {
  // pcg32-demo (O'Neill's reference C code) with seed 42, sequence 54.
  Generator g(42, 54);
  const uint32_t expected[] = {0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e};
  for (uint32_t e : expected) CHECK(g.next_u32() == e);
}

TEST_CASE("PCG32's jump-ahead lands where that many draws do") {
  for (uint64_t delta : {0ULL, 1ULL, 2ULL, 3ULL, 1000ULL, 65537ULL, 1234567ULL}) {
    Generator walked(9, 3), jumped(9, 3);
    for (uint64_t i = 0; i < delta; ++i) walked.next_u32();
    jumped.advance(delta);
    CHECK(walked.next_u32() == jumped.next_u32());
  }
}

// The parallel fill is the reference loop of normal() calls, bit for bit: any size (odd ones end
// on a spare, which the next fill starts with), affine or not, float or double, any thread count.
TEST_CASE("fill_normal gives exactly the numbers normal() gives, on any thread count") {
  for (int threads : {1, 2, 3}) {
    cpu::ThreadsScope scope(threads);
    for (int64_t n : {0, 1, 2, 5, 16385, 100001, 300000}) {
      for (const auto& [mean, std] : {std::pair{0.0, 1.0}, std::pair{0.5, 0.01}}) {
        Generator ref(11), fast(11);
        ref.normal();  // start on a spare
        fast.normal();
        std::vector<double> expect(n), got(n);
        std::vector<float> expect_f(n), got_f(n);
        for (int64_t i = 0; i < n; ++i) expect[i] = mean + std * ref.normal();
        fast.fill_normal(got.data(), n, mean, std);
        for (int64_t i = 0; i < n; ++i) expect_f[i] = static_cast<float>(mean + std * ref.normal());
        fast.fill_normal(got_f.data(), n, mean, std);
        INFO("threads ", threads, ", n ", n, ", std ", std);
        CHECK(got == expect);
        CHECK(got_f == expect_f);
        CHECK(ref.next_u32() == fast.next_u32());  // left where the calls leave it
        CHECK(ref.normal() == fast.normal());
      }
    }
  }
}

TEST_CASE("mix_seed depends on every part and on their order") {
  CHECK(mix_seed({1, 2, 3}) == mix_seed({1, 2, 3}));
  CHECK(mix_seed({1, 2, 3}) != mix_seed({1, 3, 2}));
  CHECK(mix_seed({1, 2, 3}) != mix_seed({1, 2, 4}));
  CHECK(mix_seed({0}) != mix_seed({0, 0}));
}

TEST_CASE("random tensors are reproducible and have the right moments") {
  Generator a(7), b(7);
  const Tensor x = Tensor::randn({10000}, a), y = Tensor::randn({10000}, b);
  CHECK(vals(x) == vals(y));
  const double m = mean(x).item(), v = var(x).item();
  CHECK(std::abs(m) < 0.05);
  CHECK(std::abs(v - 1.0) < 0.05);
  Generator c(7);
  const Tensor u = Tensor::rand({10000}, c, -1.0, 3.0);
  CHECK(min(u).item() >= -1.0);
  CHECK(max(u).item() < 3.0);
  CHECK(std::abs(mean(u).item() - 1.0) < 0.05);
}

TEST_CASE("factories and metadata") {
  const Tensor t = Tensor::full({2, 3}, 1.5, DType::Float64);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.strides() == Shape{3, 1});
  CHECK(t.numel() == 6);
  CHECK(t.dtype() == DType::Float64);
  CHECK(t.device() == Device{});
  CHECK(t.is_contiguous());
  CHECK(vals(t) == std::vector<double>(6, 1.5));
  CHECK(Tensor::scalar(3.0).dim() == 0);
  CHECK(Tensor::scalar(3.0).item() == 3.0);
  CHECK(vals(Tensor::arange(4)) == std::vector<double>{0, 1, 2, 3});
  CHECK(Tensor::zeros({0, 3}).numel() == 0);
}

TEST_CASE("views share storage and do not copy") {
  Tensor base = Tensor::arange(12);
  Tensor r = reshape(base, {3, 4});
  Tensor p = transpose(r, 0, 1);
  Tensor s = slice(r, 1, 1, 4, 2);
  Tensor e = expand(reshape(Tensor::arange(3), {3, 1}), {3, 4});
  CHECK(r.storage() == base.storage());
  CHECK(p.storage() == base.storage());
  CHECK(s.storage() == base.storage());
  CHECK(!p.is_contiguous());
  CHECK(p.shape() == Shape{4, 3});
  CHECK(vals(p) == std::vector<double>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  CHECK(vals(s) == std::vector<double>{1, 3, 5, 7, 9, 11});
  CHECK(e.strides() == Shape{1, 0});
  CHECK(vals(e) == std::vector<double>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2});
  // Writing through a view is seen by the base.
  select(r, 0, 2).fill(-1.0);
  CHECK(vals(base)[8] == -1.0);
  // A reshape of a transposed view cannot be a view: it copies, and says so by not sharing.
  Tensor q = reshape(p, {12});
  CHECK(q.storage() != base.storage());
  CHECK(vals(q) == vals(p));
  CHECK_THROWS_WITH_AS(view(p, {12}), doctest::Contains("view"), Error);
  // contiguous() of a dense tensor is the same tensor.
  CHECK(r.contiguous().same(r));
  CHECK(permute(reshape(base, {2, 3, 2}), {2, 0, 1}).shape() == Shape{2, 2, 3});
}

TEST_CASE("broadcasting elementwise ops follow NumPy rules") {
  const Tensor a = reshape(Tensor::arange(6), {2, 3});
  const Tensor b = Tensor::from_vector<float>({10, 20, 30}, {3});
  const Tensor c = Tensor::from_vector<float>({100, 200}, {2, 1});
  CHECK(vals(a + b) == std::vector<double>{10, 21, 32, 13, 24, 35});
  CHECK(vals(a + c) == std::vector<double>{100, 101, 102, 203, 204, 205});
  CHECK((b + c).shape() == Shape{2, 3});
  CHECK(vals(a * 2.0 - 1.0) == std::vector<double>{-1, 1, 3, 5, 7, 9});
  CHECK(vals(gt(a, Tensor::scalar(2.5))) == std::vector<double>{0, 0, 0, 1, 1, 1});
  CHECK(vals(clamp(a, 1, 4)) == std::vector<double>{1, 1, 2, 3, 4, 4});
  CHECK(vals(leaky_relu(a - 2.0, 0.5)) == std::vector<double>{-1, -0.5, 0, 1, 2, 3});
  CHECK(vals(pow(b, 2.0)) == std::vector<double>{100, 400, 900});
  CHECK(std::abs(sigmoid(Tensor::scalar(0.0)).item() - 0.5) < 1e-7);
}

TEST_CASE("reductions over any dims") {
  const Tensor x = reshape(Tensor::arange(24, DType::Float64), {2, 3, 4});
  CHECK(sum(x).item() == 276);
  CHECK(sum(x, {0, 2}).shape() == Shape{3});
  CHECK(vals(sum(x, {0, 2})) == std::vector<double>{60, 92, 124});
  CHECK(sum(x, {1}, true).shape() == Shape{2, 1, 4});
  CHECK(vals(mean(x, {-1})) == std::vector<double>{1.5, 5.5, 9.5, 13.5, 17.5, 21.5});
  CHECK(vals(max(x, {1})) == std::vector<double>{8, 9, 10, 11, 20, 21, 22, 23});
  CHECK(vals(min(x, {0, 1})) == std::vector<double>{0, 1, 2, 3});
  CHECK(var(x, {2}, 0).to_vector<double>()[0] == doctest::Approx(1.25));
  CHECK(var(x, {2}).to_vector<double>()[0] == doctest::Approx(5.0 / 3.0));
  // Reductions of a non-contiguous view.
  CHECK(vals(sum(transpose(x, 0, 2), {2})) == vals(transpose(sum(x, {0}), 0, 1)));
}

TEST_CASE("float32 sums stay accurate over many elements") {
  // 2^24 + 1 is not representable in float32; a naive float accumulator would stall.
  const Tensor ones = Tensor::ones({1 << 22});
  CHECK(sum(ones).item() == static_cast<double>(1 << 22));
  const Tensor tenth = Tensor::full({1000000}, 0.1);
  CHECK(std::abs(sum(tenth).item() - 100000.0) < 1.0);
}

TEST_CASE("matmul: 2-D, batched with broadcast, vectors") {
  const Tensor a = reshape(Tensor::arange(6), {2, 3});
  const Tensor b = reshape(Tensor::arange(12), {3, 4});
  CHECK(vals(matmul(a, b)) == std::vector<double>{20, 23, 26, 29, 56, 68, 80, 92});
  const Tensor v = Tensor::from_vector<float>({1, 2, 3}, {3});
  CHECK(vals(matmul(a, v)) == std::vector<double>{8, 26});
  CHECK(matmul(v, v).item() == 14);
  CHECK(vals(matmul(v, b)) == std::vector<double>{32, 38, 44, 50});
  const Tensor batch = expand(reshape(a, {1, 2, 3}), {5, 2, 3});
  CHECK(matmul(batch, b).shape() == Shape{5, 2, 4});
  CHECK(vals(select(matmul(batch, b), 0, 4)) == vals(matmul(a, b)));
  CHECK(vals(matmul(transpose(b, 0, 1), transpose(a, 0, 1))) == vals(transpose(matmul(a, b), 0, 1)));
}

TEST_CASE("cat and stack") {
  const Tensor a = reshape(Tensor::arange(4), {2, 2});
  const Tensor b = Tensor::full({2, 1}, 9.0);
  CHECK(vals(cat({a, b}, 1)) == std::vector<double>{0, 1, 9, 2, 3, 9});
  CHECK(stack({a, a}, 0).shape() == Shape{2, 2, 2});
  CHECK(vals(stack({a, a * 2.0}, 2)) == std::vector<double>{0, 0, 1, 2, 2, 4, 3, 6});
}

TEST_CASE("dtype conversion and copy") {
  const Tensor a = Tensor::from_vector<float>({1.5f, -2.25f}, {2});
  const Tensor d = a.to(DType::Float64);
  CHECK(d.dtype() == DType::Float64);
  CHECK(vals(d) == std::vector<double>{1.5, -2.25});
  Tensor z = Tensor::zeros({3, 2});
  z.copy_from(a);
  CHECK(vals(z) == std::vector<double>{1.5, -2.25, 1.5, -2.25, 1.5, -2.25});
}
