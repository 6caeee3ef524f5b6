// The three Fusion implementations (stylenet/fusion.h), one file each; only Fusion::make builds them.
#pragma once
#include <memory>

#include "stylenet/fusion.h"

namespace sn {

// The WCT arithmetic (fusion_wct.cpp) that the WCT fusion and the learned fusion started at WCT
// share: the content's whole-image moments over tiles, each style's colouring, their binding and
// its application. Inference arithmetic: the results carry no autograd history.
class WctContent {
 public:
  explicit WctContent(double eps);
  ~WctContent();
  void add(const Tensor& own);  // a tile's own region, every image of the batch
  void finish();                // after every tile: each image's whitening
  // [N, c, c + 1], in the content's dtype: see BoundTransform::wct.
  Tensor bind(const StyleStatistics& style) const;
  // The regularisation both sides use (the styles' statistics take it too).
  double eps() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};
// The style's mean and colouring.
StyleStatistics wct_style_statistics(const Tensor& S, double eps);
// t = B C + o for C [N, c, h, w], with `flat` C as [N, c, h * w] and bound = [B | o].
Tensor wct_transfer(const Tensor& C, const Tensor& flat, const Tensor& bound);

std::unique_ptr<Fusion> make_adain_fusion(double eps);       // fusion_adain.cpp
std::unique_ptr<Fusion> make_wct_fusion(double eps);         // fusion_wct.cpp
std::unique_ptr<Fusion> make_learned_fusion(const LearnedFusion& module, double eps);  // fusion_learned.cpp

}  // namespace sn
