// Names of the ImageNet-1k classes that torchvision's classifiers predict.
#pragma once
#include <cstdint>

namespace sn {

constexpr int64_t kImageNetClasses = 1000;
// "tench", "goldfish", ...; "?" outside [0, 1000).
const char* imagenet_class_name(int64_t index);

}  // namespace sn
