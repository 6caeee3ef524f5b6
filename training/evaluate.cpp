#include "training/evaluate.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>
#include <tuple>
#include <utility>

#include "autograd/grad_mode.h"
#include "vision/image.h"
#include "tensor/error.h"

namespace sn {

namespace {

using Plane = std::vector<double>;

Plane luma(const Tensor& img, int64_t& h, int64_t& w) {
  h = img.size(2);
  w = img.size(3);
  const auto v = img.contiguous().to_vector<float>();
  Plane y(h * w);
  for (int64_t i = 0; i < h * w; ++i) y[i] = kLumaWeights[0] * v[i] + kLumaWeights[1] * v[h * w + i] + kLumaWeights[2] * v[2 * h * w + i];
  return y;
}

Plane sobel_magnitude(const Plane& y, int64_t h, int64_t w) {
  Plane m(h * w);
  auto at = [&](int64_t r, int64_t c) {  // replicate the border
    r = std::clamp<int64_t>(r, 0, h - 1);
    c = std::clamp<int64_t>(c, 0, w - 1);
    return y[r * w + c];
  };
  for (int64_t r = 0; r < h; ++r)
    for (int64_t c = 0; c < w; ++c) {
      const double gx = at(r - 1, c + 1) + 2 * at(r, c + 1) + at(r + 1, c + 1) - at(r - 1, c - 1) - 2 * at(r, c - 1) - at(r + 1, c - 1);
      const double gy = at(r + 1, c - 1) + 2 * at(r + 1, c) + at(r + 1, c + 1) - at(r - 1, c - 1) - 2 * at(r - 1, c) - at(r - 1, c + 1);
      m[r * w + c] = std::sqrt(gx * gx + gy * gy);
    }
  return m;
}

// One 1-D pass of SSIM's Gaussian window (sigma 1.5, radius 5, renormalised at the borders),
// along rows or along columns.
Plane blur_pass(const Plane& x, int64_t h, int64_t w, bool along_rows) {
  double k[11];
  for (int i = 0; i < 11; ++i) k[i] = std::exp(-(i - 5) * (i - 5) / (2 * 1.5 * 1.5));
  const int64_t len = along_rows ? w : h, stride = along_rows ? 1 : w;
  Plane out(h * w);
  for (int64_t r = 0; r < h; ++r)
    for (int64_t c = 0; c < w; ++c) {
      const int64_t pos = along_rows ? c : r;
      double s = 0, n = 0;
      for (int i = 0; i < 11; ++i) {
        const int64_t q = pos + i - 5;
        if (q >= 0 && q < len) s += k[i] * x[r * w + c + (i - 5) * stride], n += k[i];
      }
      out[r * w + c] = s / n;
    }
  return out;
}

// The separable 2-D window: rows, then columns.
Plane blur(const Plane& x, int64_t h, int64_t w) { return blur_pass(blur_pass(x, h, w, true), h, w, false); }

}  // namespace

double edge_ssim(const Tensor& a, const Tensor& b) {
  SN_CHECK(a.shape() == b.shape() && a.dim() == 4 && a.size(1) == 3, "edge_ssim: need two [1, 3, H, W] images of one size, got ",
           shape_str(a.shape()), " and ", shape_str(b.shape()));
  int64_t h = 0, w = 0;
  const Plane ya = luma(a, h, w), yb = luma(b, h, w);  // sets h, w first
  const Plane ea = sobel_magnitude(ya, h, w), eb = sobel_magnitude(yb, h, w);
  Plane aa(h * w), bb(h * w), ab(h * w);
  for (int64_t i = 0; i < h * w; ++i) aa[i] = ea[i] * ea[i], bb[i] = eb[i] * eb[i], ab[i] = ea[i] * eb[i];
  const Plane ma = blur(ea, h, w), mb = blur(eb, h, w), saa = blur(aa, h, w), sbb = blur(bb, h, w), sab = blur(ab, h, w);
  // Constants for a dynamic range of 4 (Sobel magnitudes of [0, 1] images reach about 4 * sqrt 2).
  const double L = 4.0, c1 = (0.01 * L) * (0.01 * L), c2 = (0.03 * L) * (0.03 * L);
  double total = 0;
  for (int64_t i = 0; i < h * w; ++i) {
    const double va = saa[i] - ma[i] * ma[i], vb = sbb[i] - mb[i] * mb[i], cov = sab[i] - ma[i] * mb[i];
    total += ((2 * ma[i] * mb[i] + c1) * (2 * cov + c2)) / ((ma[i] * ma[i] + mb[i] * mb[i] + c1) * (va + vb + c2));
  }
  return total / static_cast<double>(h * w);
}

const std::vector<std::string>& eval_method_names() {
  static const std::vector<std::string> names = {"learned", "adain", "wct", "optimize", "refine", "decoded-optimize", "reconstruct"};
  return names;
}

std::vector<EvalMethod> evaluate_methods(const Vgg16& encoder, const StyleModel& model,
                                         const std::vector<Tensor>& contents_in, const std::vector<Tensor>& styles_in,
                                         const EvalOptions& opt, const std::function<void(const std::string&)>& progress) {
  std::vector<Tensor> contents, styles;
  for (const Tensor& c : contents_in) contents.push_back(resize_image(c, opt.size, opt.size));
  for (const Tensor& s : styles_in) styles.push_back(resize_image(s, opt.size, opt.size));
  StyleLossConfig cfg = opt.loss;
  cfg.content_tap = model.config().tap;

  // Targets once per image.
  std::vector<Tensor> content_feats;
  std::vector<std::map<std::string, Tensor>> style_feats;
  {
    NoGradGuard ng;
    for (const Tensor& c : contents) content_feats.push_back(encoder.features(c, {cfg.content_tap}).at(cfg.content_tap));
    for (const Tensor& s : styles) style_feats.push_back(encoder.features(s, cfg.style_taps));
  }
  auto score = [&](const Tensor& y, size_t i, size_t j) {
    NoGradGuard ng;
    const auto f = encoder.features(y, loss_taps(cfg));
    PairScores s;
    s.content = content_loss(f.at(cfg.content_tap), content_feats[i]).item();
    for (const auto& t : cfg.style_taps) {
      s.style_per_tap.push_back(mean_std_loss(f.at(t), style_feats[j].at(t)).item());
      s.style += s.style_per_tap.back();
    }
    s.edge_ssim = edge_ssim(y, contents[i]);
    return s;
  };

  // Optimisation results, made once per pair: "optimize" and "decoded-optimize" share them.
  // "optimize" reports the seconds the optimisation took, whichever method asked for it first.
  std::map<std::pair<size_t, size_t>, std::pair<Tensor, double>> optimum;
  auto optimized = [&](size_t i, size_t j) -> const std::pair<Tensor, double>& {
    auto it = optimum.find({i, j});
    if (it != optimum.end()) return it->second;
    OptimizeOptions oo;
    oo.steps = opt.optimize_steps;
    oo.loss = cfg;
    const auto t0 = std::chrono::steady_clock::now();
    const Tensor x = optimize_image(encoder, contents[i], {{styles[j], 1.0}}, oo);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return optimum[{i, j}] = {x, seconds};
  };

  std::vector<EvalMethod> out;
  for (const std::string& name : opt.methods) {
    EvalMethod m;
    m.name = name;
    for (size_t i = 0; i < contents.size(); ++i) {
      m.results.emplace_back();
      m.scores.emplace_back();
      for (size_t j = 0; j < styles.size(); ++j) {
        auto t0 = std::chrono::steady_clock::now();
        Tensor y;
        std::optional<double> seconds;  // set where the time is not t0 to now
        if (name == "optimize") {
          std::tie(y, seconds) = optimized(i, j);
        } else if (name == "refine") {
          StylizeOptions so;
          so.tile = 0;
          OptimizeOptions oo;
          oo.steps = opt.refine_steps;
          oo.loss = cfg;
          oo.init = stylize(encoder, model, contents[i], {{styles[j], 1.0}}, so);
          y = optimize_image(encoder, contents[i], {{styles[j], 1.0}}, oo);
        } else if (name == "decoded-optimize" || name == "reconstruct") {
          // The model's encoder and decoder alone (alpha 0: no fusion) on the optimum or the photo.
          const Tensor source = name == "reconstruct" ? contents[i] : optimized(i, j).first;
          t0 = std::chrono::steady_clock::now();  // decoded-optimize's time leaves out the optimisation
          StylizeOptions so;
          so.alpha = 0;
          so.tile = 0;
          y = stylize(encoder, model, source, {{styles[j], 1.0}}, so);
        } else {
          StylizeOptions so;
          so.method = parse_fusion_method(name);
          so.tile = 0;
          y = stylize(encoder, model, contents[i], {{styles[j], 1.0}}, so);
        }
        PairScores s = score(y, i, j);
        s.seconds = seconds.value_or(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        m.mean.content += s.content;
        m.mean.style += s.style;
        m.mean.style_per_tap.resize(s.style_per_tap.size());
        for (size_t t = 0; t < s.style_per_tap.size(); ++t) m.mean.style_per_tap[t] += s.style_per_tap[t];
        m.mean.edge_ssim += s.edge_ssim;
        m.mean.seconds += s.seconds;
        m.results.back().push_back(y);
        m.scores.back().push_back(s);
        if (progress) progress(name + " " + std::to_string(i + 1) + "/" + std::to_string(contents.size()) + " x " +
                               std::to_string(j + 1) + "/" + std::to_string(styles.size()));
      }
    }
    const double n = static_cast<double>(contents.size() * styles.size());
    m.mean.content /= n;
    m.mean.style /= n;
    for (double& v : m.mean.style_per_tap) v /= n;
    m.mean.edge_ssim /= n;
    m.mean.seconds /= n;
    out.push_back(std::move(m));
  }
  return out;
}

std::string eval_table(const std::vector<EvalMethod>& methods, const std::vector<std::string>& style_taps) {
  std::ostringstream os;
  os << "| method | content loss | style loss |";
  for (const auto& t : style_taps) os << " " << t << " |";
  os << " edge SSIM | s / image |\n|---|---:|---:|";
  for (size_t t = 0; t < style_taps.size(); ++t) os << "---:|";
  os << "---:|---:|\n";
  char buf[128];
  for (const auto& m : methods) {
    std::snprintf(buf, sizeof buf, "| %s | %.4f | %.4f |", m.name.c_str(), m.mean.content, m.mean.style);
    os << buf;
    for (size_t t = 0; t < style_taps.size(); ++t) {
      std::snprintf(buf, sizeof buf, " %.5f |", t < m.mean.style_per_tap.size() ? m.mean.style_per_tap[t] : 0.0);
      os << buf;
    }
    std::snprintf(buf, sizeof buf, " %.3f | %.2f |\n", m.mean.edge_ssim, m.mean.seconds);
    os << buf;
  }
  return os.str();
}

Tensor contact_sheet(const std::vector<Tensor>& contents, const std::vector<Tensor>& styles,
                     const std::vector<std::vector<Tensor>>& results) {
  SN_CHECK(!contents.empty() && !styles.empty() && results.size() == contents.size(), "contact_sheet: empty or mismatched grid");
  const int64_t h = results[0][0].size(2), w = results[0][0].size(3);
  std::vector<Tensor> cells;
  cells.push_back(Tensor::ones({1, 3, h, w}));
  for (const Tensor& s : styles) cells.push_back(resize_image(s, h, w));
  for (size_t i = 0; i < contents.size(); ++i) {
    cells.push_back(resize_image(contents[i], h, w));
    for (const Tensor& r : results[i]) cells.push_back(r);
  }
  return image_grid(cells, static_cast<int64_t>(styles.size()) + 1);
}

}  // namespace sn
