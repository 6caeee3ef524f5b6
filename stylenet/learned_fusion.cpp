#include "stylenet/learned_fusion.h"

#include "stylenet/fusion.h"
#include "tensor/error.h"

namespace sn {

const char* fusion_start_name(FusionStart start) { return start == FusionStart::WCT ? "wct" : "identity"; }

FusionStart parse_fusion_start(const std::string& name) {
  if (name == "identity") return FusionStart::Identity;
  if (name == "wct") return FusionStart::WCT;
  throw Error("unknown fusion start '" + name + "' (choose identity or wct)");
}

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
  return from_covariance(second_moments(f) / static_cast<double>(f.size(2) * f.size(3)));
}

Tensor LstBranch::second_moments(const Tensor& f) {
  const Tensor flat = reshape(f, {f.size(0), f.size(1), f.size(2) * f.size(3)});
  return matmul(flat, transpose(flat, 1, 2));
}

Tensor LstBranch::from_covariance(const Tensor& cov) {
  return fc->forward(reshape(cov, {cov.size(0), k_ * k_}));
}

std::string LstBranch::extra_repr() const {
  return "channels=" + std::to_string(channels_) + ", k=" + std::to_string(k_);
}

LearnedFusion::LearnedFusion(int64_t channels, int64_t k, Generator* gen, FusionStart start)
    : Module("LearnedFusion"), channels_(channels), k_(k), start_(start) {
  // Registration order = LST's MulLayer (snet, cnet, compress, unzip), so state_dict keys and
  // the order random initialisation draws in line up with the PyTorch model.
  snet = register_module("snet", std::make_shared<LstBranch>(channels, k, gen));
  cnet = register_module("cnet", std::make_shared<LstBranch>(channels, k, gen));
  compress = register_module("compress", std::make_shared<Conv2d>(channels, k, 1, Conv2dConfig{}, gen));
  unzip = register_module("unzip", std::make_shared<Conv2d>(k, channels, 1, Conv2dConfig{}, gen));
}

Tensor LearnedFusion::fuse(const Tensor& C, const Tensor& S) const { return sn::fuse(FusionMethod::Learned, C, S, this); }

Tensor LearnedFusion::forward(const Tensor&) {
  SN_CHECK(false, "LearnedFusion takes content and style features: call fuse(C, S)");
  return Tensor();
}

std::string LearnedFusion::extra_repr() const {
  return "channels=" + std::to_string(channels_) + ", k=" + std::to_string(k_) + ", start=" + fusion_start_name(start_);
}

}  // namespace sn
