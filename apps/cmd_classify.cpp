// `stylenet classify`: ImageNet top-k of an image with VGG16's classifier.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "apps/args.h"
#include "apps/command.h"
#include "autograd/grad_mode.h"
#include "vision/image.h"
#include "vision/imagenet_classes.h"
#include "vision/vgg16.h"

namespace sn::cli {

namespace {

int run(const std::vector<std::string>& argv) {
  const Args args(argv, {"image", "weights", "top"}, {});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "'");
  const int64_t k = args.get_int("top", 5, 1, kImageNetClasses);
  const Tensor image = Vgg16::eval_crop(load_image(args.require("image")));

  const Vgg16 vgg = Vgg16::load(args.get("weights", ""), VggParts::Full);
  NoGradGuard no_grad;
  const std::vector<float> logits = vgg.classify(image).to_vector<float>();

  // Softmax in double, shifted by the largest logit so exp cannot overflow.
  const double top_logit = *std::max_element(logits.begin(), logits.end());
  double total = 0.0;
  for (float l : logits) total += std::exp(l - top_logit);
  std::vector<int64_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return logits[a] > logits[b]; });
  for (int64_t r = 0; r < k; ++r) {
    const int64_t c = order[r];
    std::printf("%2lld. %4lld  %8.4f%%  logit %9.5f  %s\n", static_cast<long long>(r + 1), static_cast<long long>(c),
                100.0 * std::exp(logits[c] - top_logit) / total, logits[c], imagenet_class_name(c));
  }
  if (vgg.identity().standin) std::printf("(stand-in weights: these predictions are meaningless)\n");
  return 0;
}

}  // namespace

extern const Command kClassifyCommand = {
    "classify", "print the ImageNet top-5 classes of an image (VGG16 classifier)",
    "usage: stylenet classify --image I [--weights W] [--top 5]\n"
    "Resizes the image's shorter side to 256, takes the central 224x224 (torchvision's evaluation\n"
    "transform) and prints the top classes: rank, class index, probability, logit, name.\n"
    "  --weights W  full VGG16 weights with the classifier (.safetensors or .pth); default\n"
    "               $STYLENET_WEIGHTS, else ~/.cache/stylenet/vgg16.safetensors, else the stand-in\n",
    run};

}  // namespace sn::cli
