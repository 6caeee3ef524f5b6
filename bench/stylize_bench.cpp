// `stylize` timed end to end on a square photo, for scripts/bench-vs-torch.sh (which runs
// bench/stylize_torch.py, the same network in PyTorch, in the same run and prints the ratio).
//
//   stylenet_stylize_bench --size S --threads T --reps R [--warmup W] [--style-size N]
//                          [--tile N] [--model PATH] [--method learned|multilevel|learned-multilevel]
//                          [--device cpu|cuda[:N]] [--tf32 on|off]
//
// The photo is a sample photo ($STYLENET_DATA/data/samples) resized to S x S, the style a sample
// artwork at N x N (default 512, the CLI's --style-size). One timed repetition is one call of
// sn::paint with the CLI's defaults (512 px tiles, 16 px reflection border) and the method
// (default: the CLI's; learned is the single-level default of before December 2026): encode
// photo and style, fuse, decode, at each level. Loading the model and the encoder is not timed;
// image decoding and encoding are not part of it either. Prints one JSON line in the format of
// stylenet_vgg_bench (workload "stylize" for learned, else "stylize_<method>").
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "vision/data.h"
#include "vision/image.h"
#include "stylenet/paint.h"
#include "tensor/cpu/isa.h"
#include "tensor/cpu/parallel.h"
#include "bench/bench_device.h"

using namespace sn;

int main(int argc, char** argv) try {
  int64_t size = 512, style_size = 512, tile = 512;
  int threads = 1, reps = 3, warmup = 1;
  std::string model_path = default_model_path().string(), method = method_name(kDefaultMethod), finishing = "on";
  bench::DeviceFlags dev;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--size") size = std::atoll(v.c_str());
    else if (k == "--style-size") style_size = std::atoll(v.c_str());
    else if (k == "--tile") tile = std::atoll(v.c_str());
    else if (k == "--threads") threads = std::atoi(v.c_str());
    else if (k == "--reps") reps = std::atoi(v.c_str());
    else if (k == "--warmup") warmup = std::atoi(v.c_str());
    else if (k == "--model") model_path = v;
    else if (k == "--method") method = v;
    else if (k == "--finish") finishing = v;  // on (stylize's default) or off: the decoder's output
    else if (!dev.parse(k, v)) {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  cpu::set_num_threads(threads);
  dev.apply();
  StyleModel model = StyleModel::load(model_path);
  model.to(dev.device);
  const Vgg16 encoder = Vgg16::standin();
  const Tensor content = resize_image(load_image(sample_images("content_").front()), size, size);
  const Tensor style = resize_image(load_image(sample_images("style_").front()), style_size, style_size);
  PaintOptions opt;
  opt.method = parse_method(method);
  opt.stylize.tile = tile;
  opt.device = dev.device;
  if (finishing == "off") opt.finish = FinishOptions::none();
  const std::string workload =
      (opt.method == Method::Learned ? "stylize" : "stylize_" + method) + (finishing == "off" ? "_unfinished" : "");

  std::vector<double> times;
  double checksum = 0.0;
  for (int r = 0; r < warmup + reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const Tensor out = paint(encoder, &model, content, {{style, 1.0}}, opt);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    checksum = out.numel();
    if (r >= warmup) times.push_back(s);
  }
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted.empty() ? 0.0 : sorted[sorted.size() / 2];
  struct rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("{\"impl\": \"stylenet\", \"workload\": \"%s\", \"size\": %lld, \"batch\": 1, \"threads\": %d, "
              "\"isa\": \"%s\", \"tile\": %lld, \"median_s\": %.6f, \"peak_rss_mb\": %.1f, \"checksum\": %.6g, ",
              workload.c_str(), static_cast<long long>(size), threads, cpu::isa_name(cpu::active_isa()), static_cast<long long>(tile), median,
              ru.ru_maxrss / 1024.0, checksum);
  dev.print_json_fields();
  std::printf("\"times\": [");
  for (size_t i = 0; i < times.size(); ++i) std::printf("%s%.6f", i ? ", " : "", times[i]);
  std::printf("]}\n");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "stylenet_stylize_bench: %s\n", e.what());
  return 1;
}
