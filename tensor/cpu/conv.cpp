// The forward algorithm rule of tensor/cpu/conv.h and its override.
#include <cstdlib>
#include <optional>
#include <string>

#include "tensor/cpu/conv.h"
#include "tensor/cpu/gemm.h"
#include "tensor/cpu/isa.h"
#include "tensor/cpu/pointwise.h"
#include "tensor/cpu/workspace.h"
#include "tensor/error.h"

namespace sn::cpu {

namespace {
enum class Choice { Auto, Gemm, Winograd, Winograd6, Direct };

// nullopt for a name that is none of them.
std::optional<Choice> parse_choice(const char* name) {
  const std::string n = name ? name : "auto";
  if (n == "auto") return Choice::Auto;
  if (n == "gemm") return Choice::Gemm;
  if (n == "winograd") return Choice::Winograd;
  if (n == "winograd6") return Choice::Winograd6;
  if (n == "direct") return Choice::Direct;
  return std::nullopt;
}

Choice choice_from_env() {
  const char* env = std::getenv("STYLENET_CONV");
  const std::optional<Choice> c = parse_choice(env && *env ? env : nullptr);
  SN_CHECK(c, "STYLENET_CONV='", env, "' is not a convolution algorithm (expected auto, gemm, winograd, winograd6 or direct)");
  return *c;
}

Choice& choice() {
  static Choice c = choice_from_env();
  return c;
}
}  // namespace

const char* conv_algo_name(ConvAlgo a) {
  switch (a) {
    case ConvAlgo::Winograd4x3: return "winograd4x3";
    case ConvAlgo::Winograd6x3: return "winograd6x3";
    case ConvAlgo::Direct: return "direct";
    case ConvAlgo::Im2colGemm: break;
  }
  return "im2col_gemm";
}

int winograd_tile(ConvAlgo a) { return a == ConvAlgo::Winograd4x3 ? 4 : a == ConvAlgo::Winograd6x3 ? 6 : 0; }

bool winograd_applies(const ConvShape& s) {
  return s.KH == 3 && s.KW == 3 && s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1 && s.groups == 1;
}

ConvAlgo conv2d_algo(const ConvShape& s, bool weights_cached) {
  switch (choice()) {
    case Choice::Gemm: return ConvAlgo::Im2colGemm;
    case Choice::Winograd: return winograd_applies(s) ? ConvAlgo::Winograd4x3 : ConvAlgo::Im2colGemm;
    case Choice::Winograd6: return winograd_applies(s) ? ConvAlgo::Winograd6x3 : ConvAlgo::Im2colGemm;
    case Choice::Direct: return direct_applies(s) ? ConvAlgo::Direct : ConvAlgo::Im2colGemm;
    case Choice::Auto: break;
  }
  if (direct_applies(s)) return ConvAlgo::Direct;
  // The input/output transforms cost O(C + O) per tile against O(C * O) for the GEMMs: below 16
  // channels on either side (VGG's first layer has C = 3) they are not amortised. The weight
  // transform writes 36 * O * C floats per call whatever the image size, which few tiles cannot
  // amortise. Both costs scale with O * C, so the tile count decides: measured on VGG's
  // 512-channel layers (1 thread, AVX-512, stylenet_bench_kernels, medians of 3), 49 tiles (28x28,
  // batch 1) take 24.8 ms against im2col's 28.2 ms, 16 tiles (14x14) 20.6 ms against 7.8 ms, and
  // 196 tiles (56x56) run ~1.7x faster than im2col. With the transformed weights cached, 16 tiles
  // already pay: 14x14 x 512 channels in VGG16 at 224 (stylenet_vgg_bench --layers 1, weights
  // cached) 3.3 ms against im2col's 6.3 on 1 thread, 2.3 against 3.7 on 2. A one-shot run pays
  // the transform once: `features --layers relu5_3` as a whole process, 0.483 s against 0.461
  // (medians of 5, alternating; before the transform wrote the packed layout directly).
  const int64_t tiles = s.N * ((s.OH + 3) / 4) * ((s.OW + 3) / 4), min_tiles = weights_cached ? 16 : 48;
  if (!(winograd_applies(s) && s.C >= 16 && s.O >= 16 && tiles >= min_tiles)) return ConvAlgo::Im2colGemm;
  // F(6x6) where its GEMMs are at least 15 % smaller than F(4x4)'s and a row holds at least two
  // lane groups of its tiles (OW >= 187), or one (OW >= 91) where the channels are few enough
  // (C + O <= 256) that each thread still runs tile blocks of its own (winograd.cpp's
  // thread_block_tiles: F(6x6)'s blocks are 64/36 the size): its transforms cost more per multiply
  // saved, and its 6-pixel tiles overhang the map's edge more. VGG16, AVX-512, weights cached
  // (stylenet_vgg_bench --layers 1, F(4x4) -> F(6x6), ABBA rounds): at 224, 1 thread, 112^2 x
  // 64 -> 128 and 128 -> 128 ch 4.58 -> 4.17 and 7.14 -> 6.52 ms (6 rounds; 2 threads 2.90 -> 2.75
  // and 4.21 -> 4.02), 56^2 x 256 ch 6.97 -> 9.26; at 512, 1 thread, 128^2 x 128 -> 256 ch (shared
  // blocks with F(6x6), a thread's own with F(4x4)) 20.5 -> 25.0 ms, 256 -> 256 ch 41.7 -> 39.6.
  // With AVX2 (plain loops for the 6-wide lane transposes) F(6x6) measured no faster while the
  // AVX2 GEMM ran at half its peak; since that was mended, it pays on the same layers (AVX2, 1
  // thread, 3 rounds: conv1_2 17.2 -> 12.8 ms, conv2_1 8.5 -> 6.2, conv2_2 14.9 -> 11.1).
  const int64_t tiles6 = s.N * ((s.OH + 5) / 6) * ((s.OW + 5) / 6), row6 = (s.OW + 5) / 6;
  const bool six_pays = tiles6 * 64 * 100 <= tiles * 36 * 85 && (row6 >= 32 || (row6 >= 16 && s.C + s.O <= 256));
  return six_pays ? ConvAlgo::Winograd6x3 : ConvAlgo::Winograd4x3;
}

void set_conv_algo_override(const char* name) {
  const std::optional<Choice> c = parse_choice(name);
  SN_CHECK(c, "set_conv_algo_override: '", name, "' is not auto, gemm, winograd, winograd6 or direct");
  choice() = *c;
}

namespace {
// Frozen weights with the cache on: their transformed form is kept from the second call on. The
// algorithm must not depend on whether this particular call hits (a resumed training run, or a
// second `eval` of the same image, must give the same bits as the first), so the rule asks only
// whether the weights can be cached at all.
bool weights_cacheable(const WeightKey& key) { return key && weight_cache_budget() > 0; }
}  // namespace

void conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* bias, float* y, bool relu,
                    const WeightKey& key) {
  switch (const ConvAlgo algo = conv2d_algo(s, weights_cacheable(key))) {
    case ConvAlgo::Winograd4x3:
    case ConvAlgo::Winograd6x3: return conv2d_forward_winograd(s, x, w, bias, y, relu, key, winograd_tile(algo));
    case ConvAlgo::Direct: return conv2d_forward_direct(s, x, w, bias, y, relu);
    case ConvAlgo::Im2colGemm: break;
  }
  conv2d_forward_gemm(s, x, w, bias, y, relu, key);
}

void conv2d_relu_pool_forward(const ConvShape& s, const float* x, const float* w, const float* bias, float* y,
                              const WeightKey& key) {
  const ConvAlgo algo = conv2d_algo(s, weights_cacheable(key));
  if (const int m = winograd_tile(algo)) return conv2d_forward_winograd(s, x, w, bias, y, true, key, m, true);
  WorkspaceLease full(s.N * s.O * s.OH * s.OW);
  conv2d_forward(s, x, w, bias, full.data(), true, key);
  max_pool2d_f32({s.N * s.O, s.OH, s.OW, s.OH / 2, s.OW / 2, 2, 2, 2, 2, 0, 0}, full.data(), y);
}

std::string derived_kind(const char* what, const ConvShape& s) {
  return detail::cat(what, " O", s.O, " C", s.C, " k", s.KH, "x", s.KW, " g", s.groups, " ", isa_name(active_isa()),
                     " ", gemm_backend_name(gemm_backend()));
}

ConvShape backward_input_as_forward(const ConvShape& s) {
  return {s.N, s.O, s.OH, s.OW, s.C, s.KH, s.KW, s.H, s.W, 1, 1, s.KH - 1 - s.ph, s.KW - 1 - s.pw, 1, 1, 1};
}

ConvAlgo conv2d_backward_input_algo(const ConvShape& s, bool weights_cached) {
  if (!winograd_applies(s) || s.ph > s.KH - 1 || s.pw > s.KW - 1) return ConvAlgo::Im2colGemm;
  // Winograd where it would run the equivalent forward; the direct kernel is forward only.
  const ConvAlgo forward = conv2d_algo(backward_input_as_forward(s), weights_cached);
  return winograd_tile(forward) ? forward : ConvAlgo::Im2colGemm;
}

void conv2d_backward_input(const ConvShape& s, const float* dy, const float* w, float* dx, const WeightKey& key) {
  if (const int m = winograd_tile(conv2d_backward_input_algo(s, weights_cacheable(key))))
    return conv2d_backward_input_winograd(s, dy, w, dx, key, m);
  conv2d_backward_input_gemm(s, dy, w, dx, key);
}

ConvAlgo conv2d_backward_weight_algo(const ConvShape& s) {
  return winograd_tile(conv2d_algo(s)) ? ConvAlgo::Winograd4x3 : ConvAlgo::Im2colGemm;
}

void conv2d_backward_weight(const ConvShape& s, const float* dy, const float* x, float* dw) {
  if (conv2d_backward_weight_algo(s) == ConvAlgo::Winograd4x3) return conv2d_backward_weight_winograd(s, dy, x, dw);
  conv2d_backward_weight_gemm(s, dy, x, dw);
}

}  // namespace sn::cpu
