// VGG16 workloads timed end to end, for scripts/bench-vs-torch.sh (which runs bench/vgg_torch.py
// on the same workloads and prints the ratio). One workload per process, so the peak RSS reported
// is that workload's own.
//
//   stylenet_vgg_bench --workload forward|train --size S --batch B --threads T --reps R [--warmup W]
//                      [--layers 1]   (forward: median time per layer on stderr, with its
//                                      multiply-adds and their fraction of the FMA peak)
//                      [--device cpu|cuda[:N]] [--tf32 on|off]   (GPU: peak_gpu_bytes is StyleNet's
//                      allocator's high-water mark, comparable to torch.cuda.max_memory_allocated)
//
//   forward: torchvision's VGG16 `features` (13 conv + ReLU, 5 max-pools, up to pool5) under NoGradGuard,
//            as inference: conv2d_relu, and conv2d_relu_pool for each block's last conv and its pool
//            (as stylenet::Vgg16 runs them).
//   train:   VGG16 up to relu4_3 (10 conv + ReLU, 3 pools), loss = mean(out^2), backward to the
//            weights, biases and the input image (both gradient kinds a conv layer has).
//
// The network is built here from autograd ops with seeded He-normal weights rather than through
// stylenet::Vgg16, so the benchmark depends only on the kernels it measures; the layers and their
// order are exactly torchvision's. Prints one JSON line with every repetition's seconds, the
// median, the process's peak RSS, its page faults (in all, and per timed repetition: a warm pass
// that still maps fresh memory shows here), and the arithmetic: the multiply-adds the kernels actually do
// ("gmacs": Winograd's 36 per 4x4 tile and channel pair, im2col's 9 per pixel and pair) and as a
// direct convolution ("gmacs_direct"), and the achieved rate as a fraction of the FMA peak measured
// in the same process for the same ISA and thread count (bench/fma_peak.h).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/nn_ops.h"
#include "autograd/ops.h"
#include "tensor/cpu/conv.h"
#include "tensor/cpu/isa.h"
#include "tensor/cpu/parallel.h"
#include "tensor/cuda/cuda.h"
#include "tensor/kernels/core.h"
#include "tensor/random.h"
#include "bench/bench_device.h"
#include "bench/fma_peak.h"

using namespace sn;

namespace {

struct Conv {
  Tensor w, b;
};

long minor_faults() {
  struct rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

// torchvision cfg "D": channel counts, 0 = max-pool.
const int kCfg[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};

std::vector<Conv> make_convs(int count, bool requires_grad, Device device) {
  Generator gen(1409);
  std::vector<Conv> convs;
  int64_t in = 3;
  for (int c : kCfg) {
    if (c == 0) continue;
    if (static_cast<int>(convs.size()) == count) break;
    const double stdv = std::sqrt(2.0 / (c * 9));
    Conv cv{kernels::unary(kernels::Unary::MulScalar, Tensor::randn({c, in, 3, 3}, gen), stdv).to(device),
            Tensor::zeros({c}, DType::Float32, device)};
    if (requires_grad) cv.w.set_requires_grad(true), cv.b.set_requires_grad(true);
    convs.push_back(cv);
    in = c;
  }
  return convs;
}

// Multiply-adds of one conv + ReLU layer (forward, or forward and both backward passes), as the
// kernels do them and as a direct convolution would.
struct Macs {
  double done = 0, direct = 0;
};
Macs conv_macs(const cpu::ConvShape& s, bool train) {
  const double direct = double(s.N) * s.OH * s.OW * s.C * s.O * s.KH * s.KW;
  const auto done_by = [&](cpu::ConvAlgo algo, const cpu::ConvShape& f) {
    const int m = cpu::winograd_tile(algo);
    if (!m) return double(f.N) * f.OH * f.OW * f.C * f.O * f.KH * f.KW;
    const double tiles = double(f.N) * ((f.OH + m - 1) / m) * ((f.OW + m - 1) / m);
    return tiles * (m + 2) * (m + 2) * f.C * f.O;
  };
  // Forward only: frozen weights, cached from the warm-up on; training: trainable weights, never cached.
  Macs m{done_by(cpu::conv2d_algo(s, !train), s), direct};
  if (train) {  // backward data (Winograd on the equivalent forward, or GEMM) and weights (the same)
    m.done += done_by(cpu::conv2d_backward_input_algo(s), cpu::backward_input_as_forward(s)) +
              done_by(cpu::conv2d_backward_weight_algo(s), s);
    m.direct += 2 * direct;
  }
  return m;
}
Macs total_macs;  // of one repetition, added up during the first

// The rate of `macs` multiply-adds in `seconds` as a fraction of a peak of `peak_gflops` (0 where
// either is not measured).
double fraction_of_peak(double macs, double seconds, double peak_gflops) {
  return peak_gflops > 0 && seconds > 0 ? 2 * macs / seconds * 1e-9 / peak_gflops : 0.0;
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Per-layer records of the forward (--layers 1): each layer's name, its multiply-adds (0 for a pool
// of its own) and its time in every timed repetition (the ops run synchronously, so a layer's time
// is the wall time around its op).
struct LayerRecord {
  std::string name;
  double macs;
  std::vector<double> times;
};
std::vector<LayerRecord> layer_records;
bool record_layers = false;
bool count_macs = false;

// Runs the layers of kCfg until `convs` is used up; with_last_pool adds the pool that follows the
// last conv block (features ends with pool5; relu4_3 stops before pool4).
Tensor run(const std::vector<Conv>& convs, Tensor x, bool with_last_pool) {
  Conv2dOptions same;
  same.padding = {1, 1};
  Pool2dOptions halve;
  halve.kernel = {2, 2};
  size_t next = 0, layer = 0;
  double t = record_layers ? now() : 0.0;
  auto mark = [&](const std::string& name, double macs) {
    if (!record_layers) return;
    const double t1 = now();
    if (layer_records.size() <= layer) layer_records.push_back({name, macs, {}});
    layer_records[layer++].times.push_back(t1 - t);
    t = t1;
  };
  int block = 1, in_block = 0;
  for (size_t k = 0; k < std::size(kCfg); ++k) {
    if (kCfg[k] == 0) {  // a pool not fused with its conv (see below)
      if (next == convs.size() && !with_last_pool) break;
      x = max_pool2d(x, halve);
      mark("pool" + std::to_string(block++), 0.0), in_block = 0;
      if (next == convs.size()) break;
      continue;
    }
    if (next == convs.size()) break;
    const int64_t n = x.size(0), in = x.size(1), h = x.size(2), w = x.size(3), out = convs[next].w.size(0);
    const Macs m = conv_macs({n, in, h, w, out, 3, 3, h, w, 1, 1, 1, 1, 1, 1, 1}, x.requires_grad());
    if (count_macs) total_macs.done += m.done, total_macs.direct += m.direct;
    const std::string name = "conv" + std::to_string(block) + "_" + std::to_string(++in_block) + " " +
                             std::to_string(out) + "x" + std::to_string(h);
    const bool pool_next = kCfg[k + 1] == 0 && (next + 1 < convs.size() || with_last_pool);
    if (pool_next && !x.requires_grad()) {  // the block's last conv, ReLU and pool as one op (inference)
      x = conv2d_relu_pool(x, convs[next].w, convs[next].b, same);
      mark(name + "+pool" + std::to_string(block++), m.done), in_block = 0, ++k;
    } else {
      x = conv2d_relu(x, convs[next].w, convs[next].b, same);  // torchvision's conv + ReLU pair, fused
      mark(name, m.done);
    }
    ++next;
  }
  return x;
}

}  // namespace

int main(int argc, char** argv) try {
  std::string workload = "forward";
  int64_t size = 224, batch = 1;
  int threads = 1, reps = 5, warmup = 1;
  bool layers = false;
  bench::DeviceFlags dev;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--workload") workload = v;
    else if (k == "--size") size = std::atoll(v.c_str());
    else if (k == "--batch") batch = std::atoll(v.c_str());
    else if (k == "--threads") threads = std::atoi(v.c_str());
    else if (k == "--reps") reps = std::atoi(v.c_str());
    else if (k == "--warmup") warmup = std::atoi(v.c_str());
    else if (k == "--layers") layers = std::atoi(v.c_str()) != 0;
    else if (!dev.parse(k, v)) {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  cpu::set_num_threads(threads);
  dev.apply();
  const Device device = dev.device;
  Generator gen(7);
  const Tensor image = Tensor::rand({batch, 3, size, size}, gen, 0.0, 1.0, DType::Float32, device);
  const bool train = workload == "train";
  if (!train && workload != "forward") {
    std::fprintf(stderr, "unknown workload %s\n", workload.c_str());
    return 2;
  }
  const std::vector<Conv> convs = make_convs(train ? 10 : 13, train, device);

  std::vector<double> times;
  double checksum = 0.0;
  long faults_before_timed = 0;  // minor page faults when the timed repetitions began
  for (int r = 0; r < warmup + reps; ++r) {
    if (r == warmup) faults_before_timed = minor_faults();
    record_layers = layers && !train && r >= warmup;
    count_macs = r == 0;
    const double t0 = now();
    if (train) {
      Tensor x = image.detach();
      x.set_requires_grad(true);
      Tensor out = run(convs, x, false);
      Tensor loss = mean(square(out));
      backward(loss);
      checksum = loss.item();
      for (const Conv& c : convs) c.w.set_grad(Tensor()), c.b.set_grad(Tensor());
    } else {
      NoGradGuard ng;
      Tensor out = run(convs, image, true);
      checksum = out.numel();
      cuda::synchronize(device);  // GPU kernels run asynchronously: time them to the end
    }
    if (r >= warmup) times.push_back(now() - t0);
  }
  struct rusage ru{};
  getrusage(RUSAGE_SELF, &ru);  // before the peak loop, which allocates nothing anyway
  const double peak =
      dev.gpu() || cpu::active_isa() == cpu::Isa::Ref ? 0.0 : bench::peak_gflops(cpu::active_isa(), threads);
  // --layers: one line per layer on stderr (median seconds over the timed repetitions), then its
  // multiply-adds and their rate as a fraction of the peak: where the pass falls short of it.
  for (const LayerRecord& layer : layer_records) {
    std::vector<double> v = layer.times;
    std::sort(v.begin(), v.end());
    const double s = v[v.size() / 2];
    std::fprintf(stderr, "%-24s %8.2f ms", layer.name.c_str(), 1e3 * s);
    if (const double f = fraction_of_peak(layer.macs, s, peak); layer.macs > 0 && f > 0)
      std::fprintf(stderr, " %7.1f M madds %4.0f %% of peak", layer.macs * 1e-6, 100 * f);
    std::fprintf(stderr, "\n");
  }
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted.empty() ? 0.0 : sorted[sorted.size() / 2];
  const double of_peak = fraction_of_peak(total_macs.done, median, peak);
  std::printf("{\"impl\": \"stylenet\", \"workload\": \"%s\", \"size\": %lld, \"batch\": %lld, \"threads\": %d, "
              "\"isa\": \"%s\", \"median_s\": %.6f, \"peak_rss_mb\": %.1f, \"minor_faults\": %ld, \"faults_per_rep\": %.1f, \"checksum\": %.6g, "
              "\"gmacs\": %.3f, \"gmacs_direct\": %.3f, \"fma_peak_gflops\": %.1f, \"of_peak\": %.3f, ",
              workload.c_str(), static_cast<long long>(size), static_cast<long long>(batch), threads,
              cpu::isa_name(cpu::active_isa()), median, ru.ru_maxrss / 1024.0, ru.ru_minflt,
              reps > 0 ? double(minor_faults() - faults_before_timed) / reps : 0.0, checksum,
              total_macs.done * 1e-9, total_macs.direct * 1e-9, peak, of_peak);
  dev.print_json_fields();
  std::printf("\"times\": [");
  for (size_t i = 0; i < times.size(); ++i) std::printf("%s%.6f", i ? ", " : "", times[i]);
  std::printf("]}\n");
  return 0;
} catch (const std::exception& e) {  // a bad flag value or a missing device: one line, as the CLI
  std::fprintf(stderr, "stylenet_vgg_bench: %s\n", e.what());
  return 1;
}
