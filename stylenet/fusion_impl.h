// The three Fusion implementations (stylenet/fusion.h), one file each; only Fusion::make builds them.
#pragma once
#include <memory>

#include "stylenet/fusion.h"

namespace sn {

std::unique_ptr<Fusion> make_adain_fusion(double eps);       // fusion_adain.cpp
std::unique_ptr<Fusion> make_wct_fusion(double eps);         // fusion_wct.cpp
std::unique_ptr<Fusion> make_learned_fusion(const LearnedFusion& module);  // fusion_learned.cpp

}  // namespace sn
