#include "stylenet/fusion.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cctype>
#include <vector>

#include "tensor/error.h"

namespace sn {

namespace {

void check_pair(const Tensor& C, const Tensor& S, const char* who, bool same_batch) {
  SN_CHECK(C.defined() && S.defined() && C.dim() == 4 && S.dim() == 4, who,
           ": expected content and style features [N, c, h, w]");
  SN_CHECK(C.size(1) == S.size(1), who, ": content has ", C.size(1), " channels, style ", S.size(1));
  SN_CHECK(S.size(0) == C.size(0) || (!same_batch && S.size(0) == 1), who, ": style batch ", S.size(0),
           " does not match content batch ", C.size(0), same_batch ? "" : " (nor is it 1)");
  SN_CHECK(C.dtype() == S.dtype(), who, ": content and style dtypes differ");
}

}  // namespace

FusionMethod parse_fusion_method(const std::string& name) {
  std::string s = name;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return std::tolower(ch); });
  if (s == "learned" || s == "lst") return FusionMethod::Learned;
  if (s == "adain") return FusionMethod::AdaIN;
  if (s == "wct") return FusionMethod::WCT;
  SN_CHECK(false, "unknown fusion method '", name, "' (choose learned, adain or wct)");
  return FusionMethod::Learned;
}

std::string fusion_method_name(FusionMethod method) {
  switch (method) {
    case FusionMethod::Learned: return "learned";
    case FusionMethod::AdaIN: return "adain";
    case FusionMethod::WCT: return "wct";
  }
  return "?";
}

std::pair<Tensor, Tensor> channel_mean_std(const Tensor& F, double eps) {
  SN_CHECK(F.defined() && F.dim() == 4, "channel_mean_std: expected [N, c, h, w]");
  SN_CHECK(F.size(2) * F.size(3) >= 2, "channel_mean_std: the unbiased std needs at least 2 pixels, got ",
           F.size(2), "x", F.size(3));
  const Tensor m = mean(F, {2, 3}, true);
  const Tensor s = sqrt(add_scalar(var(F, {2, 3}, 1, true), eps));
  return {m, s};
}

Tensor adain(const Tensor& C, const Tensor& S, double eps) {
  check_pair(C, S, "adain", false);
  const auto [cm, cs] = channel_mean_std(C, eps);
  const auto [sm, ss] = channel_mean_std(S, eps);
  return (C - cm) / cs * ss + sm;
}

// ---- WCT ----

namespace {

using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// One image's features [c, hw] as float64 (its own copy).
Mat image_matrix(const Tensor& F, int64_t n) {
  const int64_t c = F.size(1), hw = F.size(2) * F.size(3);
  const std::vector<double> v = F.as_strided({c, F.size(2), F.size(3)},
                                             {F.strides()[1], F.strides()[2], F.strides()[3]},
                                             F.offset() + n * F.strides()[0])
                                    .to_vector<double>();
  return Eigen::Map<const Mat>(v.data(), c, hw);
}

// Centres X in place; returns the mean column and the eigen decomposition of cov(X) + eps I.
Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> centred_cov_eig(Mat& X, Eigen::VectorXd& mean, double eps) {
  mean = X.rowwise().mean();
  X.colwise() -= mean;
  const double denom = static_cast<double>(std::max<Eigen::Index>(X.cols() - 1, 1));
  Eigen::MatrixXd cov = (X * X.transpose()) / denom;
  cov.diagonal().array() += eps;
  return Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(cov);
}

}  // namespace

Tensor wct(const Tensor& C, const Tensor& S, double eps) {
  check_pair(C, S, "wct", false);
  SN_CHECK(eps > 0, "wct: eps must be positive (it regularises rank-deficient covariances)");
  const int64_t N = C.size(0), c = C.size(1), h = C.size(2), w = C.size(3);
  Tensor out = Tensor::empty({N, c, h, w}, DType::Float64);
  double* o = out.data<double>();

  // One style image serves every content image: decompose it once.
  Mat colour;
  Eigen::VectorXd s_mean;
  auto style_colouring = [&](int64_t n) {
    Mat Xs = image_matrix(S, n);
    const auto es = centred_cov_eig(Xs, s_mean, eps);
    SN_CHECK(es.info() == Eigen::Success, "wct: eigendecomposition of the style covariance failed");
    const Eigen::VectorXd d = es.eigenvalues().cwiseMax(eps).cwiseSqrt();
    colour = es.eigenvectors() * d.asDiagonal() * es.eigenvectors().transpose();
  };
  if (S.size(0) == 1) style_colouring(0);

  for (int64_t n = 0; n < N; ++n) {
    if (S.size(0) != 1) style_colouring(n);
    Mat Xc = image_matrix(C, n);
    Eigen::VectorXd c_mean;
    const auto ec = centred_cov_eig(Xc, c_mean, eps);
    SN_CHECK(ec.info() == Eigen::Success, "wct: eigendecomposition of the content covariance failed");
    const Eigen::VectorXd d = ec.eigenvalues().cwiseMax(eps).cwiseSqrt().cwiseInverse();
    const Eigen::MatrixXd whiten = ec.eigenvectors() * d.asDiagonal() * ec.eigenvectors().transpose();
    Mat t = (colour * whiten) * Xc;
    t.colwise() += s_mean;
    Eigen::Map<Mat>(o + n * c * h * w, c, h * w) = t;
  }
  return out.to(C.dtype());
}

// ---- LearnedFusion ----

LstBranch::LstBranch(int64_t channels, int64_t k, Generator* gen)
    : Module("LstBranch"), channels_(channels), k_(k) {
  SN_CHECK(channels >= 4 && k >= 1, "LstBranch: need channels >= 4 and k >= 1, got ", channels, ", ", k);
  Conv2dConfig pad1;
  pad1.padding = 1;
  convs = register_module("convs", make_sequential({
                                       std::make_shared<Conv2d>(channels, channels / 2, 3, pad1, gen),
                                       std::make_shared<ReLU>(),
                                       std::make_shared<Conv2d>(channels / 2, channels / 4, 3, pad1, gen),
                                       std::make_shared<ReLU>(),
                                       std::make_shared<Conv2d>(channels / 4, k, 3, pad1, gen),
                                   }));
  fc = register_module("fc", std::make_shared<Linear>(k * k, k * k, true, gen));
}

Tensor LstBranch::forward(const Tensor& x) {
  const Tensor f = convs->forward(x);
  const int64_t b = f.size(0), h = f.size(2), w = f.size(3);
  const Tensor flat = reshape(f, {b, k_, h * w});
  const Tensor cov = matmul(flat, transpose(flat, 1, 2)) / static_cast<double>(h * w);
  return fc->forward(reshape(cov, {b, k_ * k_}));
}

std::string LstBranch::extra_repr() const {
  return "channels=" + std::to_string(channels_) + ", k=" + std::to_string(k_);
}

LearnedFusion::LearnedFusion(int64_t channels, int64_t k, Generator* gen)
    : Module("LearnedFusion"), channels_(channels), k_(k) {
  // Registration order = LST's MulLayer (snet, cnet, compress, unzip), so state_dict keys and
  // the order random initialisation draws in line up with the PyTorch model.
  snet = register_module("snet", std::make_shared<LstBranch>(channels, k, gen));
  cnet = register_module("cnet", std::make_shared<LstBranch>(channels, k, gen));
  compress = register_module("compress", std::make_shared<Conv2d>(channels, k, 1, Conv2dConfig{}, gen));
  unzip = register_module("unzip", std::make_shared<Conv2d>(k, channels, 1, Conv2dConfig{}, gen));
}

Tensor LearnedFusion::transform_centred(const Tensor& Cc, const Tensor& Sc) {
  const int64_t b = Cc.size(0);
  return matmul(reshape(snet->forward(Sc), {b, k_, k_}), reshape(cnet->forward(Cc), {b, k_, k_}));
}

Tensor LearnedFusion::transform(const Tensor& C, const Tensor& S) {
  check_pair(C, S, "LearnedFusion", true);
  SN_CHECK(C.size(1) == channels_, "LearnedFusion: built for ", channels_, " channels, got ", C.size(1));
  return transform_centred(C - mean(C, {2, 3}, true), S - mean(S, {2, 3}, true));
}

Tensor LearnedFusion::fuse(const Tensor& C, const Tensor& S) {
  check_pair(C, S, "LearnedFusion", true);
  SN_CHECK(C.size(1) == channels_, "LearnedFusion: built for ", channels_, " channels, got ", C.size(1));
  const int64_t b = C.size(0), h = C.size(2), w = C.size(3);
  const Tensor s_mean = mean(S, {2, 3}, true);
  const Tensor Cc = C - mean(C, {2, 3}, true);
  const Tensor T = transform_centred(Cc, S - s_mean);
  const Tensor z = reshape(compress->forward(Cc), {b, k_, h * w});
  return unzip->forward(reshape(matmul(T, z), {b, k_, h, w})) + s_mean;
}

Tensor LearnedFusion::forward(const Tensor&) {
  SN_CHECK(false, "LearnedFusion takes content and style features: call fuse(C, S)");
  return Tensor();
}

std::string LearnedFusion::extra_repr() const {
  return "channels=" + std::to_string(channels_) + ", k=" + std::to_string(k_);
}

}  // namespace sn
