// `stylenet features`: VGG16 activations of an image, written as .npy files or one .npz.
#include <cstdio>
#include <filesystem>

#include "apps/args.h"
#include "apps/command.h"
#include "autograd/grad_mode.h"
#include "stylenet/image.h"
#include "stylenet/vgg16.h"
#include "weights/atomic_file.h"
#include "weights/npy.h"
#include "weights/zip_writer.h"

namespace sn::cli {

namespace {

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> parts;
  size_t begin = 0;
  while (begin <= s.size()) {
    const size_t end = std::min(s.find(',', begin), s.size());
    if (end > begin) parts.push_back(s.substr(begin, end - begin));
    begin = end + 1;
  }
  return parts;
}

int run(const std::vector<std::string>& argv) {
  const Args args(argv, {"image", "layers", "out", "weights", "size"}, {});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "'");
  const std::string out = args.require("out");
  const std::vector<std::string> layers = split_commas(args.require("layers"));
  if (layers.empty()) throw UsageError("--layers names no layer");
  Tensor image = load_image(args.require("image"));
  if (args.has("size")) image = resize_short_side(image, args.get_int("size", 0, 32, 4096));

  const Vgg16 vgg = Vgg16::load(args.get("weights", ""));
  NoGradGuard no_grad;
  const auto features = vgg.features(image, layers);

  const bool npz = out.size() > 4 && out.compare(out.size() - 4, 4, ".npz") == 0;
  if (npz) {
    write_file_atomic(out, [&](ByteSink& sink) {
      ZipWriter zip(sink);
      for (const auto& name : layers) zip.add(name + ".npy", encode_npy(features.at(name)));
      zip.finish();
    });
  } else {
    std::filesystem::create_directories(out);
    for (const auto& name : layers) save_npy(std::filesystem::path(out) / (name + ".npy"), features.at(name));
  }
  for (const auto& name : layers) std::printf("%-8s %s\n", name.c_str(), shape_str(features.at(name).shape()).c_str());
  std::printf("encoder %s\nwrote %s\n", vgg.identity().str().c_str(), out.c_str());
  return 0;
}

}  // namespace

extern const Command kFeaturesCommand = {
    "features", "write VGG16 activations of an image (.npy files or .npz)",
    "usage: stylenet features --image I --layers relu1_2,relu3_3 --out F.npz [--weights W] [--size N]\n"
    "Runs VGG16 on the image (RGB; the model applies ImageNet normalisation itself) and writes the\n"
    "requested layers' activations as float32 NCHW arrays: into one .npz (numpy.load reads it;\n"
    "one <layer>.npy per layer) when --out ends in .npz, else as <layer>.npy files in the folder\n"
    "--out. Layers: conv1_1 relu1_1 conv1_2 relu1_2 pool1 ... conv5_3 relu5_3 pool5.\n"
    "  --size N     resize so the shorter side is N pixels first (default: keep the size)\n"
    "  --weights W  VGG16 weights (.safetensors or .pth); default $STYLENET_WEIGHTS, else\n"
    "               ~/.cache/stylenet/vgg16.safetensors, else the deterministic stand-in\n",
    run};

}  // namespace sn::cli
