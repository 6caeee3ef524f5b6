// The convolution weight cache (tensor/cpu/weight_cache.h): a second call reuses what the first
// derived from the weights, and every way of writing weights makes the next call derive again.
// Each check compares with the same convolution on a fresh copy of the weights (a new storage,
// which no cache entry can name): a stale entry gives the old weights' result and fails it.
#include <doctest/doctest.h>

#include <string>

#include "autograd/engine.h"
#include "autograd/nn_ops.h"
#include "autograd/ops.h"
#include "layers/conv.h"
#include "layers/init.h"
#include "optim/adam.h"
#include "optim/sgd.h"
#include "tensor/cpu/conv.h"
#include "tensor/cpu/isa.h"
#include "tensor/cpu/parallel.h"
#include "tensor/cpu/workspace.h"
#include "tensor/cpu/weight_cache.h"
#include "tensor/kernels/core.h"
#include "tensor/random.h"
#include "tests/tensor_compare.h"

using namespace sn;
using namespace sn::test;

namespace {

// One case per algorithm and form of the transformed weights: 32 -> 32 channels on 40 x 40 (100
// F(4x4) tiles), the same forced to F(6x6), 256 -> 256 channels on 20 x 20 (25 tiles: Winograd with
// the tiles as the GEMMs' rows, its weights kept transposed), and 3 -> 16 channels on im2col + GEMM
// (forced: "auto" runs such few inputs direct, which derives nothing to keep).
struct Case {
  int64_t in, out;
  cpu::ConvAlgo algo;
  const char* force;  // set_conv_algo_override for the case
  int64_t side = 40;  // of the square input
};
const Case kCases[] = {{32, 32, cpu::ConvAlgo::Winograd4x3, "winograd"},
                       {32, 32, cpu::ConvAlgo::Winograd6x3, "winograd6"},
                       {256, 256, cpu::ConvAlgo::Winograd4x3, "winograd", 20},
                       {3, 16, cpu::ConvAlgo::Im2colGemm, "gemm"}};

// Forces the case's algorithm for the scope.
struct Forced {
  explicit Forced(const Case& c) { cpu::set_conv_algo_override(c.force); }
  ~Forced() { cpu::set_conv_algo_override("auto"); }
};

Conv2dOptions same() {
  Conv2dOptions o;
  o.padding = {1, 1};
  return o;
}

// The forward output and the input gradient (the backward-data kernel, whose weights are cached
// separately) with `w` as it is now.
std::pair<Tensor, Tensor> run(const Tensor& x, const Tensor& w, const Tensor& b) {
  const Tensor xi = x.detach().set_requires_grad(true);
  const Tensor y = conv2d(xi, w, b, same());
  backward(sum(y * y));
  return {y.detach(), xi.grad()};
}

// Two runs on w (the first after a write must not use a stale entry; the second leaves w's
// current forms cached, entries being kept from their second use) against a copy of w that no
// cache entry can name (clone_data() does not require grad, but its storage is new).
void check_fresh(const Tensor& x, const Tensor& w, const Tensor& b, const char* after) {
  INFO("after " << std::string(after));
  const auto [y_ref, dx_ref] = run(x, w.clone_data(), b);
  for (int use = 0; use < 2; ++use) {
    const auto [y, dx] = run(x, w, b);
    CHECK(max_abs_diff(y, y_ref) == 0.0);
    CHECK(max_abs_diff(dx, dx_ref) == 0.0);
  }
}

}  // namespace

TEST_CASE("weight cache: kept from the second call on, reused by the third, with the same bits") {
  Generator gen(1);
  for (const Case& c : kCases) {
    const Forced forced(c);
    const Tensor x = Tensor::randn({1, c.in, c.side, c.side}, gen), w = Tensor::randn({c.out, c.in, 3, 3}, gen);  // frozen
    const Tensor b = Tensor::randn({c.out}, gen);
    cpu::ConvShape s{1, c.in, c.side, c.side, c.out, 3, 3, c.side, c.side, 1, 1, 1, 1, 1, 1, 1};
    REQUIRE(cpu::conv2d_algo(s) == c.algo);
    const cpu::WeightCacheStats before = cpu::weight_cache_stats();
    const Tensor first = conv2d(x, w, b, same());
    CHECK(cpu::weight_cache_stats().entries == before.entries);  // a one-shot use keeps nothing
    const Tensor second = conv2d(x, w, b, same());
    CHECK(cpu::weight_cache_stats().entries == before.entries + 1);
    const Tensor third = conv2d(x, w, b, same());
    CHECK(cpu::weight_cache_stats().hits == before.hits + 1);
    CHECK(max_abs_diff(first, second) == 0.0);
    CHECK(max_abs_diff(first, third) == 0.0);
    CHECK(max_abs_diff(third, conv2d(x, w.clone_data(), b, same())) == 0.0);
  }
}

// 32 -> 32 channels on 16 x 16: 16 F(4x4) tiles, too few to amortise transforming the weights
// on every call (im2col for trainable weights), enough when the transformed weights are cached
// (Winograd for frozen ones, from the first call on: the choice never depends on the cache's
// history, or a resumed run would not repeat a continuous one bit for bit).
TEST_CASE("weight cache: a frozen layer with few tiles runs Winograd on every call, a trainable one im2col") {
  Generator gen(5);
  const Tensor x = Tensor::randn({1, 32, 16, 16}, gen), w = Tensor::randn({32, 32, 3, 3}, gen);  // frozen
  const Tensor b = Tensor::randn({32}, gen);
  const cpu::ConvShape s{1, 32, 16, 16, 32, 3, 3, 16, 16, 1, 1, 1, 1, 1, 1, 1};
  REQUIRE(cpu::conv2d_algo(s, false) == cpu::ConvAlgo::Im2colGemm);
  REQUIRE(cpu::conv2d_algo(s, true) == cpu::ConvAlgo::Winograd4x3);
  const auto forced = [&](const char* algo) {  // on a copy no cache entry names
    cpu::set_conv_algo_override(algo);
    const Tensor y = conv2d(x, w.clone_data(), b, same());
    cpu::set_conv_algo_override("auto");
    return y;
  };
  const Tensor by_gemm = forced("gemm"), by_winograd = forced("winograd");
  REQUIRE(max_abs_diff(by_gemm, by_winograd) > 0.0);  // the two algorithms are told apart by their bits
  const cpu::WeightCacheStats before = cpu::weight_cache_stats();
  for (int call = 0; call < 3; ++call) CHECK(max_abs_diff(conv2d(x, w, b, same()), by_winograd) == 0.0);
  CHECK(cpu::weight_cache_stats().entries == before.entries + 1);  // kept from the second call
  CHECK(cpu::weight_cache_stats().hits == before.hits + 1);        // used by the third
  const Tensor trainable = w.clone_data().set_requires_grad(true);
  CHECK(max_abs_diff(conv2d(x, trainable, b, same()).detach(), by_gemm) == 0.0);
}

// 320 -> 640 channels on 8 x 8: F(4x4)'s transformed weights take 29 MB, more than a slice
// (tensor/cpu/winograd.cpp, kWeightSliceBytes), so the first call on frozen weights, which makes
// them for itself alone (forward and backward data), transforms them a slice of whole GEMM panels
// at a time, the last one partial: the same bits as the whole transform that the second call
// makes and keeps, and as trainable weights' whole transform, in a fraction of the memory (the
// forward's and the backward's slices, about 8 MB each, and their V and M, stay under the whole).
TEST_CASE("weight cache: a one-shot Winograd call streams its transformed weights, with the same bits") {
  Generator gen(9);
  const Tensor x = Tensor::randn({1, 320, 8, 8}, gen), w = Tensor::randn({640, 320, 3, 3}, gen) * 0.02;
  const Tensor b = Tensor::randn({640}, gen);
  const size_t whole_u = size_t{36} * 320 * 640 * sizeof(float);
  for (const char* force : {"winograd", "winograd6"}) {
    for (cpu::Isa isa : cpu::supported_isas()) {
      if (isa == cpu::Isa::Ref) continue;
      for (int threads : {1, 2}) {
        CAPTURE(force);
        CAPTURE(cpu::isa_name(isa));
        CAPTURE(threads);
        cpu::set_conv_algo_override(force);
        const cpu::IsaScope is(isa);
        const cpu::ThreadsScope ts(threads);
        const Tensor frozen = w.clone_data();
        cpu::release_workspaces();
        const auto [first_y, first_dx] = run(x, frozen, b);  // streamed
        CHECK(cpu::workspace_bytes() < whole_u);
        const auto [second_y, second_dx] = run(x, frozen, b);  // whole, and kept
        CHECK(cpu::workspace_bytes() >= whole_u);
        CHECK(max_abs_diff(first_y, second_y) == 0.0);
        CHECK(max_abs_diff(first_dx, second_dx) == 0.0);
        const auto [third_y, third_dx] = run(x, frozen, b);  // from the cache
        CHECK(max_abs_diff(first_y, third_y) == 0.0);
        const auto [trained_y, trained_dx] = run(x, frozen.clone_data().set_requires_grad(true), b);  // whole
        CHECK(max_abs_diff(first_y, trained_y) == 0.0);
        CHECK(max_abs_diff(first_dx, trained_dx) == 0.0);
        // And it is the convolution (the reference loops, double accumulation).
        cpu::set_conv_algo_override("auto");
        const cpu::IsaScope ref(cpu::Isa::Ref);
        CHECK(max_abs_diff(first_y, conv2d(x, frozen.clone_data(), b, same())) < 2e-4);
      }
    }
  }
  cpu::set_conv_algo_override("auto");
}

TEST_CASE("weight cache: only frozen weights are kept, and every writer of weights invalidates them") {
  Generator gen(2);
  for (const Case& c : kCases) {
    const Forced forced(c);
    Conv2dConfig cfg;
    cfg.padding = 1;
    Conv2d conv(c.in, c.out, 3, cfg, &gen);
    const Tensor x = Tensor::randn({1, c.in, c.side, c.side}, gen);
    // Trainable weights are never kept: code outside the library may update them in place.
    const size_t entries = cpu::weight_cache_stats().entries;
    check_fresh(x, conv.weight, conv.bias, "construction");
    CHECK(cpu::weight_cache_stats().entries == entries);

    const auto freeze = [&](bool frozen) {
      conv.weight.set_requires_grad(!frozen);
      conv.bias.set_requires_grad(!frozen);
    };
    freeze(true);
    check_fresh(x, conv.weight, conv.bias, "freezing");
    CHECK(cpu::weight_cache_stats().entries == entries + 2);  // forward and backward-data forms

    // Fine-tuning between frozen uses: optimizer steps write the parameters through data<T>().
    const auto fine_tune = [&](Optimizer& optimizer, const char* name) {  // unfrozen -> frozen
      backward(sum(conv.forward(x)));
      optimizer.step();
      freeze(true);
      check_fresh(x, conv.weight, conv.bias, name);
    };
    freeze(false);
    Adam adam({conv.weight, conv.bias}, {.lr = 0.1});
    fine_tune(adam, "Adam::step");
    freeze(false);
    SGD sgd({conv.weight, conv.bias}, {.lr = 0.1});
    fine_tune(sgd, "SGD::step");

    // A checkpoint load copies into the same storage.
    Conv2d other(c.in, c.out, 3, cfg, &gen);
    conv.load_state_dict(other.state_dict());
    check_fresh(x, conv.weight, conv.bias, "load_state_dict");

    conv.weight.copy_from(Tensor::randn(conv.weight.shape(), gen));
    check_fresh(x, conv.weight, conv.bias, "copy_from");
    conv.weight.fill(0.01);
    check_fresh(x, conv.weight, conv.bias, "fill");
    kernels::add_(conv.weight, Tensor::randn(conv.weight.shape(), gen));
    check_fresh(x, conv.weight, conv.bias, "add_");
    init::normal_(conv.weight, gen);
    check_fresh(x, conv.weight, conv.bias, "init::normal_");
  }
}

TEST_CASE("weight cache: freeing the weights drops their entries") {
  Generator gen(3);
  const Tensor x = Tensor::randn({1, 32, 40, 40}, gen);
  const size_t entries = cpu::weight_cache_stats().entries;
  {
    const Tensor w = Tensor::randn({32, 32, 3, 3}, gen);
    conv2d(x, w, Tensor(), same());
    conv2d(x, w, Tensor(), same());
    CHECK(cpu::weight_cache_stats().entries == entries + 1);
  }
  CHECK(cpu::weight_cache_stats().entries == entries);
}
