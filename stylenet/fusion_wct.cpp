// WCT (Li et al. 2017): per image, whiten the centred content features with the content covariance
// (E_c D_c^-1/2 E_c^T), colour them with the style covariance (E_s D_s^1/2 E_s^T), add the style
// mean. Covariances are the unbiased ones, in float64 with Eigen's SelfAdjointEigenSolver; over
// tiles they combine with Chan et al.'s pairwise update (each tile's centred cross-products, then
// the outer product of the difference of means), exact in real arithmetic.
//
// Rank deficiency (fewer pixels than channels, dead ReLU channels): eps is added to both
// covariances' diagonals and eigenvalues are clamped to at least eps, so D^-1/2 stays finite;
// directions with no content variance are left at ~0 instead of being blown up. With eps much
// smaller than the eigenvalues the output covariance equals the style covariance.
//
// Inference only: the result carries no autograd history.
#include <Eigen/Dense>
#include <algorithm>
#include <optional>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "stylenet/fusion_impl.h"
#include "tensor/cpu/gemm.h"
#include "tensor/cpu/parallel.h"
#include "tensor/cpu/workspace.h"
#include "tensor/error.h"
#include "tensor/kernels/core.h"

namespace sn {

namespace {

using Mat = Eigen::MatrixXd;
using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vec = Eigen::VectorXd;

// eps-regularised cov^power: eigenvalues of cov + eps I clamped to >= eps, raised to `power`.
Mat sym_pow(const Mat& cov, double eps, double power) {
  Mat reg = cov;
  reg.diagonal().array() += eps;
  const Eigen::SelfAdjointEigenSolver<Mat> es(reg);
  SN_CHECK(es.info() == Eigen::Success, "wct: eigendecomposition of a feature covariance failed");
  const Vec d = es.eigenvalues().cwiseMax(eps).array().pow(power);
  return es.eigenvectors() * d.asDiagonal() * es.eigenvectors().transpose();
}

// Running mean and centred cross-product sum of one image's channels.
struct Moments {
  double n = 0;
  Vec mean;
  Mat m2;  // lower triangle only until covariance()

  // Chan et al.'s pairwise update.
  void merge(const Moments& other) {
    if (other.n == 0) return;
    if (n == 0) {
      *this = other;
      return;
    }
    const Vec delta = other.mean - mean;
    const double total = n + other.n;
    mean += delta * (other.n / total);
    m2 += other.m2;
    m2.selfadjointView<Eigen::Lower>().rankUpdate(delta, n * other.n / total);
    n = total;
  }
  Mat covariance() const {
    Mat full = m2.selfadjointView<Eigen::Lower>();
    return full / std::max(n - 1, 1.0);
  }

  // Image n of F [N, c, h, w], in blocks of kBlock pixels. Chunks of blocks run in parallel and
  // merge in chunk order, so a thread count gives the same bits on every run.
  void add_image(const Tensor& F, int64_t n) {
    if (F.device().type != DeviceType::CPU) return add_image_on_device(F, n);
    const Tensor img = slice(F, 0, n, n + 1).contiguous();
    const int64_t c = img.size(1), hw = img.size(2) * img.size(3);
    const int64_t blocks = (hw + kBlock - 1) / kBlock;
    std::vector<Moments> chunks(static_cast<size_t>(cpu::plan_chunks(0, blocks, 1).count));
    const bool f64 = img.dtype() == DType::Float64;
    cpu::parallel_for_chunks(0, blocks, 1, [&](int64_t chunk, int64_t b0, int64_t b1) {
      // One scratch per chunk for all its blocks: a fresh zeroed vector per block (8 MB at c = 512)
      // was a fresh glibc mapping each time (a 1024 px stylize's page faults 6.7k -> 5.2k).
      std::optional<cpu::WorkspaceLease> scratch;
      if (!f64) scratch.emplace(static_cast<size_t>(c * kBlock + c * c));
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t p0 = b * kBlock, nb = std::min(kBlock, hw - p0);
        chunks[static_cast<size_t>(chunk)].merge(f64 ? block_f64(img.data<double>() + p0, c, hw, nb)
                                                     : block_f32(img.data<float>() + p0, c, hw, nb, scratch->data()));
      }
    });
    for (const Moments& m : chunks) merge(m);
  }

  // On a GPU the whole image is one block, centred and multiplied in float64 there (one DGEMM of
  // [c, hw] by its transpose; not yet timed on a GPU); only the mean and the c x c result come
  // back to the host.
  void add_image_on_device(const Tensor& F, int64_t n) {
    const Tensor img = reshape(slice(F, 0, n, n + 1), {F.size(1), F.size(2) * F.size(3)}).to(DType::Float64);
    const Tensor mu = sn::mean(img, {1}, true);  // (Moments::mean is the member)
    const Tensor centred = img - mu;
    Moments m;
    m.n = static_cast<double>(img.size(1));
    const std::vector<double> mv = mu.to_vector<double>(), m2 = matmul(centred, transpose(centred, 0, 1)).to_vector<double>();
    m.mean = Eigen::Map<const Vec>(mv.data(), img.size(0));
    m.m2 = Eigen::Map<const RowMat>(m2.data(), img.size(0), img.size(0));
    merge(m);
  }

 private:
  static constexpr int64_t kBlock = 4096;

  // The moments of one block: channel rows of `count` pixels, `stride` apart. float32 features
  // are centred on the block's mean and multiplied by our SGEMM: a 4096-term float sum of centred
  // products is accurate to ~1e-6 relative, and the blocks then merge in float64. (Eigen's float64
  // product, built for baseline x86-64, took 16 % of a 1024 px multilevel stylize.)
  // `scratch`: c * kBlock + c * c floats.
  static Moments block_f32(const float* x, int64_t c, int64_t stride, int64_t count, float* scratch) {
    Moments m;
    m.n = static_cast<double>(count);
    m.mean.resize(c);
    float* const centred = scratch;
    float* const gram = scratch + c * kBlock;
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* row = x + ch * stride;
      double sum = 0;
      for (int64_t i = 0; i < count; ++i) sum += row[i];
      m.mean[ch] = sum / static_cast<double>(count);
      const float mu = static_cast<float>(m.mean[ch]);
      float* out = centred + ch * count;
      for (int64_t i = 0; i < count; ++i) out[i] = row[i] - mu;
    }
    cpu::sgemm(cpu::Trans::No, cpu::Trans::Yes, c, c, count, 1.0f, centred, count, centred, count, 0.0f, gram, c);
    using RowMatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    m.m2 = Eigen::Map<const RowMatF>(gram, c, c).cast<double>();
    return m;
  }

  // float64 features (the checks that need them): centred and multiplied in float64.
  static Moments block_f64(const double* x, int64_t c, int64_t stride, int64_t count) {
    RowMat X(c, count);
    for (int64_t ch = 0; ch < c; ++ch) std::copy_n(x + ch * stride, count, X.row(ch).data());
    Moments m;
    m.n = static_cast<double>(count);
    m.mean = X.rowwise().mean();
    X.colwise() -= m.mean;
    m.m2 = Mat::Zero(c, c);
    m.m2.selfadjointView<Eigen::Lower>().rankUpdate(X);  // half a full product's work
    return m;
  }
};

// [N, rows, cols] tensor of `dtype` from N matrices.
Tensor stack(const std::vector<Mat>& mats, DType dtype) {
  const int64_t r = mats[0].rows(), c = mats[0].cols();
  std::vector<double> v;
  for (const Mat& m : mats)
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = 0; j < c; ++j) v.push_back(m(i, j));
  return Tensor::from_doubles(v, {static_cast<int64_t>(mats.size()), r, c}, dtype);
}

Tensor channel_column(const std::vector<Vec>& means, DType dtype) {
  std::vector<Mat> cols(means.begin(), means.end());
  const int64_t n = static_cast<int64_t>(means.size()), c = means[0].size();
  return reshape(stack(cols, dtype), {n, c, 1, 1});
}

Mat matrix_at(const Tensor& stacked, int64_t n) {
  const int64_t r = stacked.size(1), c = stacked.size(2);
  const std::vector<double> v = slice(stacked, 0, n, n + 1).to_vector<double>();
  return Eigen::Map<const RowMat>(v.data(), r, c);
}

class WCTFusion : public Fusion {
 public:
  explicit WCTFusion(double eps) : content_(eps) {}

  StyleStatistics style_statistics(const Tensor& S) const override {
    return wct_style_statistics(S, content_.eps());
  }

 protected:
  void accumulate(int, const Tensor&, const Tensor& own, const Window&) override { content_.add(own); }
  void finish_pass(int) override { content_.finish(); }
  BoundTransform bind(const StyleStatistics& style) const override { return {content_.bind(style), Tensor()}; }
  Tensor prepare(const Tensor& C) const override {
    return reshape(C, {C.size(0), C.size(1), C.size(2) * C.size(3)});
  }
  Tensor transfer(const Tensor& C, const Tensor& flat, const Style& s) const override {
    return wct_transfer(C, flat, s.bound.wct);
  }

 private:
  WctContent content_;
};

}  // namespace

struct WctContent::State {
  double eps;
  DType dtype = DType::Float32;
  Device device;  // the content features', where the bound transforms are used
  std::vector<Moments> moments;
  std::vector<Mat> whitening;
  std::vector<Vec> means;
};

WctContent::WctContent(double eps) : state_(std::make_unique<State>()) { state_->eps = eps; }
WctContent::~WctContent() = default;
double WctContent::eps() const { return state_->eps; }

void WctContent::add(const Tensor& own) {
  state_->dtype = own.dtype();
  state_->device = own.device();
  state_->moments.resize(own.size(0));
  for (int64_t n = 0; n < own.size(0); ++n) state_->moments[n].add_image(own, n);
}

void WctContent::finish() {
  for (const Moments& m : state_->moments) {
    state_->whitening.push_back(sym_pow(m.covariance(), state_->eps, -0.5));
    state_->means.push_back(m.mean);
  }
}

// [B | o]: the transform B = colour_s * whiten_c and the offset o = mean_s - B mean_c, so that
// t = B (C - mean_c) + mean_s is one matrix product plus a per-channel add (no centred copy of
// each tile, which with the add took 10 % of a 1024 px multilevel stylize).
Tensor WctContent::bind(const StyleStatistics& style) const {
  std::vector<Mat> bound;
  const std::vector<double> style_means = style.mean.to_vector<double>();
  const int64_t c = style.mean.size(1);
  for (size_t n = 0; n < state_->whitening.size(); ++n) {
    const int64_t sn = style.colouring.size(0) == 1 ? 0 : static_cast<int64_t>(n);
    Mat b(c, c + 1);
    b.leftCols(c) = matrix_at(style.colouring, sn) * state_->whitening[n];
    const Vec ms = Eigen::Map<const Vec>(style_means.data() + sn * c, c);
    b.col(c) = ms - b.leftCols(c) * state_->means[n];
    bound.push_back(std::move(b));
  }
  return stack(bound, state_->dtype).to(state_->device);
}

StyleStatistics wct_style_statistics(const Tensor& S, double eps) {
  std::vector<Mat> colouring;
  std::vector<Vec> means;
  for (int64_t n = 0; n < S.size(0); ++n) {
    Moments m;
    m.add_image(S, n);
    colouring.push_back(sym_pow(m.covariance(), eps, 0.5));
    means.push_back(m.mean);
  }
  StyleStatistics stats;
  stats.mean = channel_column(means, S.dtype());
  stats.colouring = stack(colouring, DType::Float64);
  return stats;
}

Tensor wct_transfer(const Tensor& C, const Tensor& flat, const Tensor& bound) {
  NoGradGuard no_grad;
  const int64_t c = C.size(1);
  Tensor t = matmul(slice(bound, 2, 0, c), flat);
  kernels::add_(t, slice(bound, 2, c, c + 1));  // the offset, broadcast along the pixels
  return reshape(t, C.shape());
}

std::unique_ptr<Fusion> make_wct_fusion(double eps) { return std::make_unique<WCTFusion>(eps); }

}  // namespace sn
