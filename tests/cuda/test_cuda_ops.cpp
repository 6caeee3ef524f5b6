// Every op on the GPU against the CPU, forward and backward, in one table (after ggml's
// test-backend-ops): fresh random inputs drawn on the CPU, odd sizes, broadcasting, non-contiguous
// views, float32 and float64, the GPU allocator's free blocks poisoned with NaN before each run.
// The CPU side is the library's own CPU path (itself tested against the reference loops).
#include <functional>

#include "autograd/nn_ops.h"
#include "autograd/ops.h"
#include "tensor/random.h"
#include "tests/cuda/cuda_compare.h"

using namespace sn;
using namespace sn::cuda_test;

namespace {

struct OpCase {
  std::string name;
  std::vector<Shape> inputs;
  std::function<Tensor(const std::vector<Tensor>&)> f;
  bool positive = false;  // inputs in [0.5, 2.5) (log, sqrt, pow, div)
};

Conv2dOptions conv_opt(int64_t stride, int64_t pad, int64_t dilation = 1, int64_t groups = 1) {
  Conv2dOptions o;
  o.stride = {stride, stride};
  o.padding = {pad, pad};
  o.dilation = {dilation, dilation};
  o.groups = groups;
  return o;
}

Pool2dOptions pool_opt(int64_t k, int64_t s, int64_t pad, bool ceil, bool include_pad = true) {
  Pool2dOptions o;
  o.kernel = {k, k};
  o.stride = {s, s};
  o.padding = {pad, pad};
  o.ceil_mode = ceil;
  o.count_include_pad = include_pad;
  return o;
}

using V = const std::vector<Tensor>&;

std::vector<OpCase> op_table() {
  const Shape img{2, 3, 9, 7};
  return {
      {"neg", {{5, 7}}, [](V x) { return neg(x[0]); }},
      {"exp", {{5, 7}}, [](V x) { return exp(x[0]); }},
      {"log", {{5, 7}}, [](V x) { return log(x[0]); }, true},
      {"sqrt", {{33}}, [](V x) { return sqrt(x[0]); }, true},
      {"abs", {{5, 7}}, [](V x) { return abs(x[0]); }},
      {"square", {{5, 7}}, [](V x) { return square(x[0]); }},
      {"relu", {img}, [](V x) { return relu(x[0]); }},
      {"leaky_relu", {img}, [](V x) { return leaky_relu(x[0], 0.2); }},
      {"tanh", {{5, 7}}, [](V x) { return tanh(x[0]); }},
      {"sigmoid", {{5, 7}}, [](V x) { return sigmoid(x[0]); }},
      {"clamp", {{5, 7}}, [](V x) { return clamp(x[0], -0.5, 0.7); }},
      {"pow_scalar", {{5, 7}}, [](V x) { return pow(x[0], 1.7); }, true},
      {"scalars", {{5, 7}}, [](V x) { return add_scalar(mul_scalar(x[0], 3.0), -1.0); }},
      {"add_broadcast", {{3, 1, 5}, {4, 5}}, [](V x) { return add(x[0], x[1]); }},
      {"sub_broadcast", {{3, 4, 5}, {1, 5}}, [](V x) { return sub(x[0], x[1]); }},
      {"mul_broadcast", {{2, 3, 9, 7}, {1, 3, 1, 1}}, [](V x) { return mul(x[0], x[1]); }},
      {"div", {{6, 5}, {6, 5}}, [](V x) { return div(x[0], x[1]); }, true},
      {"pow", {{6, 5}, {6, 5}}, [](V x) { return pow(x[0], x[1]); }, true},
      {"maximum", {{6, 5}, {5}}, [](V x) { return maximum(x[0], x[1]); }},
      {"minimum", {{6, 5}, {6, 1}}, [](V x) { return minimum(x[0], x[1]); }},
      {"sum_all", {{7, 13}}, [](V x) { return sum(x[0]); }},
      {"sum_dims", {img}, [](V x) { return sum(x[0], {0, 2}); }},
      {"mean_keepdim", {img}, [](V x) { return mean(x[0], {2, 3}, true); }},
      {"var", {img}, [](V x) { return var(x[0], {2, 3}); }},
      {"max_dim", {{7, 13}}, [](V x) { return max(x[0], {1}); }},
      {"min_dim", {{7, 13}}, [](V x) { return min(x[0], {0}); }},
      {"transpose_contiguous", {{4, 6, 5}}, [](V x) { return contiguous(transpose(x[0], 0, 2)); }},
      {"permute_mul", {{4, 6, 5}, {5, 4, 6}}, [](V x) { return mul(permute(x[0], {2, 0, 1}), x[1]); }},
      {"slice_step", {{9, 8}}, [](V x) { return slice(x[0], 1, 1, 8, 3); }},
      {"select_expand", {{4, 1, 6}}, [](V x) { return expand(select(x[0], 0, 2), {3, 6}); }},
      {"cat", {{2, 3, 4}, {2, 5, 4}}, [](V x) { return cat({x[0], x[1]}, 1); }},
      {"stack", {{3, 4}, {3, 4}}, [](V x) { return stack({x[0], x[1]}, 0); }},
      {"reshape", {{6, 10}}, [](V x) { return reshape(x[0], {3, 4, 5}); }},
      {"matmul", {{5, 7}, {7, 3}}, [](V x) { return matmul(x[0], x[1]); }},
      {"matmul_batched_broadcast", {{2, 1, 4, 6}, {3, 6, 5}}, [](V x) { return matmul(x[0], x[1]); }},
      {"matmul_vector", {{6}, {2, 6, 3}}, [](V x) { return matmul(x[0], x[1]); }},
      {"matmul_gram", {{3, 16, 33}}, [](V x) { return matmul(x[0], transpose(x[0], 1, 2)); }},
      {"linear", {{5, 7}, {4, 7}, {4}}, [](V x) { return linear(x[0], x[1], x[2]); }},
      {"conv3x3_same_bias", {{2, 3, 9, 7}, {4, 3, 3, 3}, {4}},
       [](V x) { return conv2d(x[0], x[1], x[2], conv_opt(1, 1)); }},
      {"conv_relu", {{2, 5, 8, 8}, {6, 5, 3, 3}, {6}}, [](V x) { return conv2d_relu(x[0], x[1], x[2], conv_opt(1, 1)); }},
      {"conv_stride2_groups", {{1, 4, 9, 8}, {6, 2, 3, 3}}, [](V x) { return conv2d(x[0], x[1], Tensor(), conv_opt(2, 1, 1, 2)); }},
      {"conv_dilated", {{1, 2, 10, 9}, {3, 2, 3, 3}}, [](V x) { return conv2d(x[0], x[1], Tensor(), conv_opt(1, 2, 2)); }},
      {"conv_1x1", {{2, 5, 4, 5}, {3, 5, 1, 1}, {3}}, [](V x) { return conv2d(x[0], x[1], x[2]); }},
      {"conv_k4_stride3", {{1, 2, 11, 11}, {2, 2, 4, 4}}, [](V x) { return conv2d(x[0], x[1], Tensor(), conv_opt(3, 2)); }},
      {"max_pool", {img}, [](V x) { return max_pool2d(x[0], pool_opt(2, 2, 0, false)); }},
      {"max_pool_pad_ceil", {img}, [](V x) { return max_pool2d(x[0], pool_opt(3, 2, 1, true)); }},
      {"avg_pool", {img}, [](V x) { return avg_pool2d(x[0], pool_opt(2, 2, 0, false)); }},
      {"avg_pool_pad_exclude", {img}, [](V x) { return avg_pool2d(x[0], pool_opt(3, 2, 1, true, false)); }},
      {"upsample_nearest", {img}, [](V x) { return upsample_nearest2d(x[0], 2, 3); }},
      {"upsample_bilinear_up", {img}, [](V x) { return upsample_bilinear2d(x[0], 17, 12); }},
      {"upsample_bilinear_down", {img}, [](V x) { return upsample_bilinear2d(x[0], 4, 5); }},
      {"pad_zero", {img}, [](V x) { return pad2d(x[0], {1, 2, 0, 3}, PadMode::Zero); }},
      {"pad_reflect", {img}, [](V x) { return pad2d(x[0], {2, 1, 3, 2}, PadMode::Reflect); }},
      {"instance_norm", {img, {3}, {3}}, [](V x) { return instance_norm(x[0], x[1], x[2]); }},
      {"instance_norm_plain", {img}, [](V x) { return instance_norm(x[0]); }},
      {"mse_loss", {{4, 9}, {4, 9}}, [](V x) { return mse_loss(x[0], x[1]); }},
      {"l1_loss", {{4, 9}, {4, 9}}, [](V x) { return l1_loss(x[0], x[1]); }},
  };
}

// A case's inputs, drawn on the CPU. When `strided`, each input of 2+ dims is stored with its last
// two dims swapped and used through a transposed view (same values, other strides) on each device.
struct Inputs {
  std::vector<Tensor> stored;
  bool strided = false;

  std::vector<Tensor> on(Device device) const {
    std::vector<Tensor> xs;
    for (const Tensor& t : stored) {
      Tensor x = t.to(device).detach();  // a fresh leaf handle on either device
      if (strided && x.dim() >= 2) x = transpose(x, -1, -2).detach();
      xs.push_back(x.set_requires_grad(true));
    }
    return xs;
  }
};

Inputs make_inputs(const OpCase& c, DType dtype, bool strided, uint64_t seed) {
  Generator gen(seed);
  Inputs in{{}, strided};
  for (Shape s : c.inputs) {
    if (strided && s.size() >= 2) std::swap(s[s.size() - 1], s[s.size() - 2]);
    in.stored.push_back(c.positive ? Tensor::rand(s, gen, 0.5, 2.5, dtype) : Tensor::randn(s, gen, dtype));
  }
  return in;
}

struct Result {
  Tensor out;
  std::vector<Tensor> grads;
};

// Forward on `device`, then (given an upstream gradient) backward of sum(out * upstream).
Result run_case(const OpCase& c, const Inputs& inputs, const Tensor& upstream, Device device) {
  const std::vector<Tensor> xs = inputs.on(device);
  Result r;
  r.out = c.f(xs);
  if (upstream.defined()) {
    backward(sum(mul(r.out, upstream.to(device))));
    for (const Tensor& x : xs) r.grads.push_back(x.grad());
  }
  return r;
}

}  // namespace

TEST_CASE("cuda ops: forward and backward equal the CPU's (float32 and float64, dense and strided)") {
  for (const OpCase& c : op_table()) {
    for (DType dtype : {DType::Float32, DType::Float64}) {
      for (bool strided : {false, true}) {
        CAPTURE(c.name);
        CAPTURE(dtype_name(dtype));
        CAPTURE(strided);
        const Inputs inputs = make_inputs(c, dtype, strided, 17);
        const Result cpu = run_case(c, inputs, Tensor(), Device{});
        Generator gen(99);
        const Tensor upstream = Tensor::randn(cpu.out.shape(), gen, dtype);
        const Result want = run_case(c, inputs, upstream, Device{});
        std::vector<Shape> shapes{want.out.shape()};
        for (const Shape& s : c.inputs) shapes.push_back(s);
        poison_cache(shapes, dtype);
        const Result got = run_case(c, inputs, upstream, kGpu);
        CHECK(got.out.device() == kGpu);
        // float32: the GPU's libm and summation orders differ from the CPU's by a few ulps.
        const double tol = dtype == DType::Float32 ? 2e-5 : 1e-12;
        check_close(got.out, want.out, tol, c.name + " forward");
        for (size_t i = 0; i < want.grads.size(); ++i)
          check_close(got.grads[i], want.grads[i], tol, c.name + " grad of input " + std::to_string(i));
      }
    }
  }
}

TEST_CASE("cuda ops: mixing devices is one error naming the op and both devices") {
  const Tensor a = Tensor::ones({3});
  const Tensor b = Tensor::ones({3}, DType::Float32, kGpu);
  CHECK_THROWS_WITH_AS(add(a, b), doctest::Contains("cpu and cuda:0"), Error);
  CHECK_THROWS_WITH_AS(matmul(Tensor::ones({2, 3}), Tensor::ones({3, 2}, DType::Float32, kGpu)),
                       doctest::Contains("matmul"), Error);
  CHECK_THROWS_WITH_AS(b.data<float>(), doctest::Contains("cuda:0"), Error);
}

TEST_CASE("cuda memory: copies round-trip, views copy across devices, the allocator returns to its baseline") {
  Generator gen(3);
  const Tensor host = Tensor::randn({37, 41}, gen);
  const Tensor gpu = host.to(kGpu);
  CHECK(gpu.to(Device{}).to_vector<float>() == host.to_vector<float>());
  // A strided view into a strided destination, across devices.
  const Tensor view = transpose(host, 0, 1).detach();
  Tensor dst = Tensor::zeros({82, 37}, DType::Float32, kGpu);
  dst.as_strided({41, 37}, {37 * 2, 1}, 37).copy_from(view);
  const Tensor back = dst.to(Device{});
  CHECK(back.as_strided({41, 37}, {74, 1}, 37).to_vector<float>() == view.to_vector<float>());
  CHECK(back.as_strided({41, 37}, {74, 1}, 0).to_vector<float>() == std::vector<float>(41 * 37, 0.0f));

  cuda::synchronize(kGpu);
  const size_t baseline = cuda::allocator_stats(0).live_bytes;
  {
    const Tensor x = Tensor::randn({2, 3, 32, 32}, gen, DType::Float32, kGpu).set_requires_grad(true);
    const Tensor w = Tensor::randn({8, 3, 3, 3}, gen, DType::Float32, kGpu).set_requires_grad(true);
    backward(sum(conv2d_relu(x, w, Tensor(), conv_opt(1, 1))));
    CHECK(cuda::allocator_stats(0).live_bytes > baseline);
  }
  CHECK(cuda::allocator_stats(0).live_bytes == baseline);
  cuda::release_cache();
  CHECK(cuda::allocator_stats(0).cached_bytes == 0);
}

TEST_CASE("cuda memory: an impossible allocation is one out-of-memory error naming the request") {
  const int64_t huge = int64_t(1) << 40;  // 4 TiB of float32
  CHECK_THROWS_WITH_AS(Tensor::empty({huge}, DType::Float32, kGpu), doctest::Contains("out of memory"), Error);
  CHECK_NOTHROW(Tensor::ones({1024}, DType::Float32, kGpu));  // the device is still usable
}
