// Shared by the VGG16 and .pth tests: where the PyTorch-written files are, and how close is close.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tensor/error.h"
#include "tensor/tensor.h"

namespace sn::test {

// The folder tests/vgg/gen_vgg.py wrote (ctest runs it as the fixture `vgg_golden` and passes
// the path in STYLENET_VGG_DIR). Missing is an error, never a skip.
inline std::filesystem::path vgg_dir() {
  const char* dir = std::getenv("STYLENET_VGG_DIR");
  SN_CHECK(dir && std::filesystem::exists(std::filesystem::path(dir) / "vgg16_legacy.pth"),
           "STYLENET_VGG_DIR is not set or lacks vgg16_legacy.pth: run through ctest (fixture vgg_golden) or "
           "/usr/bin/python3 tests/vgg/gen_vgg.py DIR and set STYLENET_VGG_DIR=DIR");
  return dir;
}

// max |got - want| / max |want|: the error relative to the tensor's scale. (Elementwise relative
// error means nothing where ReLU makes activations exactly zero.)
inline double relative_error(const Tensor& got, const Tensor& want) {
  SN_CHECK(got.shape() == want.shape(), "relative_error: shapes ", shape_str(got.shape()), " and ",
           shape_str(want.shape()));
  const auto g = got.to_vector<double>(), w = want.to_vector<double>();
  double err = 0.0, scale = 0.0;
  for (size_t i = 0; i < g.size(); ++i) {
    err = std::max(err, std::abs(g[i] - w[i]));
    scale = std::max(scale, std::abs(w[i]));
  }
  return scale > 0.0 ? err / scale : err;
}

}  // namespace sn::test
