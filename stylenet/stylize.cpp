#include "stylenet/stylize.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <utility>

#include "autograd/grad_mode.h"
#include "autograd/nn_ops.h"
#include "tensor/error.h"

namespace sn {

namespace {

using MatD = Eigen::MatrixXd;
using VecD = Eigen::VectorXd;

// A region of the (padded) content: the part this tile produces, [y0, y1) x [x0, x1), and the
// part it reads, the same grown by the margin and clipped to the image. All multiples of the
// tap's downsampling, so pooling windows line up with the whole image's.
struct Tile {
  int64_t y0, y1, x0, x1;
  int64_t iy0, iy1, ix0, ix1;
};

// Splits [0, n) into `parts` pieces of multiples of ds, as even as possible (the last one takes
// what is left of a non-multiple n).
std::vector<std::pair<int64_t, int64_t>> split_axis(int64_t n, int64_t parts, int64_t ds) {
  const int64_t units = (n + ds - 1) / ds;
  parts = std::clamp<int64_t>(parts, 1, units);
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t i = 0; i < parts; ++i)
    out.emplace_back(units * i / parts * ds, std::min(n, units * (i + 1) / parts * ds));
  return out;
}

// Tiles of about `tile` pixels of the photo (H0 x W0 before the border) over the padded H x W:
// counting on the photo lets a photo of the tile size be one tile despite its border, and even
// splits avoid slivers that cost a whole margin for a few pixels.
std::vector<Tile> make_tiles(int64_t H, int64_t W, int64_t H0, int64_t W0, int64_t tile, int64_t margin, int64_t ds) {
  const int64_t ny = tile <= 0 ? 1 : (H0 + tile - 1) / tile, nx = tile <= 0 ? 1 : (W0 + tile - 1) / tile;
  std::vector<Tile> tiles;
  for (const auto& [y0, y1] : split_axis(H, ny, ds))
    for (const auto& [x0, x1] : split_axis(W, nx, ds)) {
      Tile t{y0, y1, x0, x1, 0, 0, 0, 0};
      t.iy0 = std::max<int64_t>(0, t.y0 - margin);
      t.iy1 = std::min(H, t.y1 + margin);
      t.ix0 = std::max<int64_t>(0, t.x0 - margin);
      t.ix1 = std::min(W, t.x1 + margin);
      tiles.push_back(t);
    }
  return tiles;
}

Tensor crop(const Tensor& x, int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
  return slice(slice(x, 2, y0, y1), 3, x0, x1).contiguous();
}

// Feature map [1, c, h, w] as an (h*w) x c matrix in double.
MatD as_matrix(const Tensor& f) {
  const Tensor c = f.contiguous();
  const int64_t ch = c.size(1), n = c.size(2) * c.size(3);
  return Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>>(c.data<float>(), n, ch).cast<double>();
}

Tensor channel_tensor(const VecD& v) {
  std::vector<float> f(v.data(), v.data() + v.size());
  return Tensor::from_vector(f, {1, static_cast<int64_t>(v.size()), 1, 1});
}

// A c x c matrix M applied per pixel: out[:, p] = M f[:, p].
Tensor apply_matrix(const MatD& M, const Tensor& f) {
  const int64_t c = f.size(1), h = f.size(2), w = f.size(3);
  std::vector<float> m(M.size());
  for (int64_t i = 0; i < c; ++i)
    for (int64_t j = 0; j < c; ++j) m[i * c + j] = static_cast<float>(M(i, j));
  return reshape(matmul(Tensor::from_vector(m, {c, c}), reshape(f, {c, h * w})), {1, c, h, w});
}

// Symmetric matrix function via eigendecomposition, eigenvalues clamped to >= eps (as wct()).
MatD sym_pow(const MatD& cov, double eps, double power) {
  Eigen::SelfAdjointEigenSolver<MatD> es(cov + eps * MatD::Identity(cov.rows(), cov.cols()));
  SN_CHECK(es.info() == Eigen::Success, "stylize: eigendecomposition of a feature covariance failed");
  const VecD d = es.eigenvalues().cwiseMax(eps).array().pow(power);
  return es.eigenvectors() * d.asDiagonal() * es.eigenvectors().transpose();
}

// Whole-image statistics of a feature map, accumulated tile by tile.
struct Moments {
  VecD sum;
  MatD outer;  // sum of f f^T (covariance) or only its diagonal's worth when !full
  int64_t n = 0;
  bool full = false;

  void add(const MatD& X) {  // X: pixels x channels
    if (n == 0) {
      sum = VecD::Zero(X.cols());
      outer = MatD::Zero(full ? X.cols() : 1, X.cols());
    }
    sum += X.colwise().sum().transpose();
    if (full) outer.noalias() += X.transpose() * X;
    else outer.row(0) += X.array().square().colwise().sum().matrix();
    n += X.rows();
  }
  VecD mean() const { return sum / static_cast<double>(n); }
  // Unbiased, as channel_mean_std and wct compute it.
  MatD covariance() const {
    const VecD m = mean();
    return (outer - static_cast<double>(n) * m * m.transpose()) / static_cast<double>(std::max<int64_t>(1, n - 1));
  }
  VecD variance() const {
    const VecD m = mean();
    return ((outer.row(0).transpose().array() - static_cast<double>(n) * m.array().square()) /
            static_cast<double>(std::max<int64_t>(1, n - 1))).matrix();
  }
};

// What one style contributes: a per-pixel map from the centred content features to t.
struct StyleTransform {
  double weight;
  Tensor matrix;     // Learned: [1, k, k] = T_s T_c; WCT: unused
  MatD colour;       // WCT: colouring * whitening (c x c)
  Tensor style_std;  // AdaIN
  Tensor style_mean; // [1, c, 1, 1]
};

constexpr double kEps = 1e-5;

}  // namespace

int64_t tile_margin(const std::string& tap) {
  // Receptive-field radius (input pixels) of the encoder up to the tap plus the decoder back
  // from it, rounded up to a multiple of 8: 12 + 10 for relu3_1, 30 + 26 for relu4_1.
  return tap == "relu3_1" ? 32 : 64;
}

Tensor transfer_luminance(const Tensor& stylized, const Tensor& content) {
  SN_CHECK(stylized.shape() == content.shape(), "transfer_luminance: shapes differ, ", shape_str(stylized.shape()),
           " vs ", shape_str(content.shape()));
  auto ch = [](const Tensor& x, int64_t i) { return slice(x, 1, i, i + 1); };
  auto luma = [&](const Tensor& x) { return ch(x, 0) * 0.299 + ch(x, 1) * 0.587 + ch(x, 2) * 0.114; };
  // RGB = content RGB + (Y_stylized - Y_content) keeps the content's chroma exactly (BT.601 YUV is
  // linear, and adding a grey offset changes only Y).
  return clamp(content + (luma(stylized) - luma(content)), 0.0, 1.0);
}

Tensor stylize(const Vgg16& encoder, const StyleModel& model, const Tensor& content_in,
               const std::vector<StyleImage>& styles, const StylizeOptions& opt) {
  NoGradGuard no_grad;
  SN_CHECK(content_in.dim() == 4 && content_in.size(0) == 1 && content_in.size(1) == 3,
           "stylize: content must be [1, 3, H, W], got ", shape_str(content_in.shape()));
  // No style image: the model's built-in collection style (learned fusion only).
  const bool builtin = styles.empty();
  SN_CHECK(!builtin || (model.collection && opt.method == FusionMethod::Learned),
           "stylize: no style image given (only a collection model, with the learned fusion, has a built-in style)");
  SN_CHECK(opt.alpha >= 0 && opt.alpha <= 1, "stylize: alpha must be in [0, 1], got ", opt.alpha);
  model.check_encoder(encoder);
  const std::string tap = model.config().tap;
  const int64_t ds = Decoder::tap_downsampling(tap), margin = tile_margin(tap);
  const int64_t H = content_in.size(2), W = content_in.size(3);
  SN_CHECK(H >= 2 * ds && W >= 2 * ds, "stylize: content image ", W, "x", H, " is too small (at least ", 2 * ds,
           " pixels a side)");

  // Reflection padding, cropped off at the end: `border` pixels on every side, so the encoder's
  // zero padding (which makes features at the image edge unlike any the decoder saw inside a
  // crop) falls outside the picture, then bottom/right up to a multiple of the downsampling.
  const int64_t B = std::min({opt.border, H - 1, W - 1}) / ds * ds;
  const int64_t Hp = (H + 2 * B + ds - 1) / ds * ds, Wp = (W + 2 * B + ds - 1) / ds * ds;
  const Tensor content = (Hp == H && Wp == W) ? content_in.contiguous()
                                              : pad2d(content_in, {B, Wp - W - B, B, Hp - H - B}, PadMode::Reflect);
  const std::vector<Tile> tiles = make_tiles(Hp, Wp, H, W, opt.tile, margin, ds);
  // Each pass needs the tile's features. Tiles are kept after their first encoding while they fit
  // in the cache budget (a 1024 px photo's all do); the rest are re-encoded per pass, which keeps
  // memory bounded for any photo size at the price of time.
  std::vector<Tensor> cache(tiles.size());
  int64_t cached_bytes = 0;
  auto encode = [&](size_t i) {
    if (cache[i].defined()) return cache[i];
    const Tile& t = tiles[i];
    Tensor f = encoder.features(crop(content, t.iy0, t.iy1, t.ix0, t.ix1), {tap}).at(tap);
    const int64_t bytes = f.numel() * static_cast<int64_t>(sizeof(float));
    if (tiles.size() == 1 || cached_bytes + bytes <= opt.feature_cache_bytes) cache[i] = f, cached_bytes += bytes;
    return f;
  };
  // The features of the tile's own region, out of those of its whole input region.
  auto interior = [&](const Tensor& f, const Tile& t) {
    return crop(f, (t.y0 - t.iy0) / ds, (t.y1 - t.iy0) / ds, (t.x0 - t.ix0) / ds, (t.x1 - t.ix0) / ds);
  };

  // Pass 1: content feature moments over the whole image.
  Moments cm;
  cm.full = opt.method == FusionMethod::WCT;
  for (size_t i = 0; i < tiles.size(); ++i) cm.add(as_matrix(interior(encode(i), tiles[i])));
  const Tensor c_mean = channel_tensor(cm.mean());

  // Pass 2 (learned fusion only): T_c from the covariance of cnet's conv features of the centred
  // content, accumulated over tiles (cnet's convs are local; only the covariance is global).
  Tensor Tc;
  const LearnedFusion& fusion = *model.fusion;
  const int64_t k = fusion.k();
  if (opt.method == FusionMethod::Learned) {
    MatD gram = MatD::Zero(k, k);
    int64_t n = 0;
    for (size_t i = 0; i < tiles.size(); ++i) {
      const MatD X = as_matrix(interior(fusion.cnet->convs->forward(encode(i) - c_mean), tiles[i]));
      gram.noalias() += X.transpose() * X;
      n += X.rows();
    }
    gram /= static_cast<double>(n);
    std::vector<float> g(gram.data(), gram.data() + gram.size());  // symmetric: order is moot
    Tc = reshape(fusion.cnet->fc->forward(Tensor::from_vector(g, {1, k * k})), {1, k, k});
  }

  // Each style's share of the transform.
  double weight_sum = 0;
  for (const StyleImage& s : styles) {
    SN_CHECK(s.weight >= 0, "stylize: style weights must be >= 0");
    weight_sum += s.weight;
  }
  SN_CHECK(builtin || weight_sum > 0, "stylize: style weights sum to zero");
  std::vector<StyleTransform> transforms;
  if (builtin) {
    StyleTransform st;
    st.weight = 1.0;
    st.style_mean = model.collection->mean;
    st.matrix = matmul(model.collection->matrix, Tc);
    transforms.push_back(std::move(st));
  }
  for (const StyleImage& s : styles) {
    SN_CHECK(s.image.dim() == 4 && s.image.size(0) == 1 && s.image.size(1) == 3,
             "stylize: style must be [1, 3, h, w], got ", shape_str(s.image.shape()));
    const Tensor S = encoder.features(s.image, {tap}).at(tap);
    SN_CHECK(S.size(2) * S.size(3) >= 2, "stylize: style image too small");
    StyleTransform st;
    st.weight = s.weight / weight_sum;
    st.style_mean = mean(S, {2, 3}, true);
    if (opt.method == FusionMethod::Learned) {
      const Tensor Ts = reshape(fusion.snet->forward(S - st.style_mean), {1, k, k});
      st.matrix = matmul(Ts, Tc);
    } else if (opt.method == FusionMethod::AdaIN) {
      st.style_std = channel_mean_std(S, kEps).second;
    } else {
      Moments sm;
      sm.full = true;
      sm.add(as_matrix(S));
      st.colour = sym_pow(sm.covariance(), kEps, 0.5) * sym_pow(cm.covariance(), kEps, -0.5);
    }
    transforms.push_back(std::move(st));
  }
  Tensor c_std;
  if (opt.method == FusionMethod::AdaIN) {
    VecD sd = (cm.variance().array() + kEps).sqrt().matrix();
    c_std = channel_tensor(sd);
  }

  // Pass 3: fuse and decode each tile; keep its own region.
  Tensor out = Tensor::empty({1, 3, Hp, Wp});
  for (size_t i = 0; i < tiles.size(); ++i) {
    const Tile& t = tiles[i];
    const Tensor C = encode(i);
    cache[i] = Tensor();  // last use: give the memory back
    const Tensor Cc = C - c_mean;
    const int64_t h = C.size(2), w = C.size(3);
    Tensor fused;
    Tensor z;
    if (opt.method == FusionMethod::Learned) z = reshape(fusion.compress->forward(Cc), {1, k, h * w});
    for (const StyleTransform& st : transforms) {
      Tensor ti;
      if (opt.method == FusionMethod::Learned)
        ti = fusion.unzip->forward(reshape(matmul(st.matrix, z), {1, k, h, w})) + st.style_mean;
      else if (opt.method == FusionMethod::AdaIN)
        ti = Cc / c_std * st.style_std + st.style_mean;
      else
        ti = apply_matrix(st.colour, Cc) + st.style_mean;
      fused = fused.defined() ? fused + ti * st.weight : ti * st.weight;
    }
    if (opt.alpha < 1) fused = fused * opt.alpha + C * (1 - opt.alpha);
    const Tensor img = model.decoder->forward(fused);
    Tensor dst = slice(slice(out, 2, t.y0, t.y1), 3, t.x0, t.x1);
    dst.copy_from(crop(img, t.y0 - t.iy0, t.y1 - t.iy0, t.x0 - t.ix0, t.x1 - t.ix0));
  }
  Tensor result = clamp(crop(out, B, B + H, B, B + W), 0.0, 1.0);
  if (opt.preserve_color) result = transfer_luminance(result, content_in);
  return result;
}

}  // namespace sn
