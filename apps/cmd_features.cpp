// `stylenet features`: VGG16 activations of an image, written as .npy files or one .npz.
#include <cstdio>
#include <filesystem>
#include <set>

#include "apps/args.h"
#include "apps/command.h"
#include "autograd/grad_mode.h"
#include "vision/image.h"
#include "vision/vgg16.h"
#include "weights/atomic_file.h"
#include "weights/npy.h"
#include "weights/zip_writer.h"

namespace sn::cli {

namespace {

// Where each layer goes: one .npz holding <layer>.npy entries, or .npy files — exactly --out for
// a single layer, <stem>_<layer>.npy beside it for several.
std::vector<std::filesystem::path> npy_paths(const std::filesystem::path& out, const std::vector<std::string>& layers) {
  if (layers.size() == 1) return {out};
  std::vector<std::filesystem::path> paths;
  for (const auto& name : layers)
    paths.push_back(out.parent_path() / (out.stem().string() + "_" + name + ".npy"));
  return paths;
}

int run(const std::vector<std::string>& argv) {
  namespace fs = std::filesystem;
  const Args args(argv, {"image", "layers", "out", "weights", "size", "device"}, {});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "'");
  const fs::path out = args.require("out");
  const std::vector<std::string> layers = split_list(args.require("layers"));
  const std::string image_path = args.require("image");
  if (layers.empty()) throw UsageError("--layers names no layer");
  // Everything that can be checked is checked before the work, so a typo costs no run.
  std::set<std::string> seen;
  for (const auto& name : layers) {
    try {
      Vgg16::tap_index(name);
    } catch (const Error& e) {
      throw UsageError(e.what());
    }
    if (!seen.insert(name).second) throw UsageError("--layers names '" + name + "' twice");
  }
  const bool npz = out.extension() == ".npz";
  if (!npz && out.extension() != ".npy")
    throw UsageError("--out must end in .npz (one archive) or .npy (one file per layer), got '" + out.string() + "'");
  const fs::path folder = out.has_parent_path() ? out.parent_path() : fs::path(".");
  if (!fs::is_directory(folder)) throw Error("output folder '" + folder.string() + "' does not exist");
  const Device device = device_option(args);

  Tensor image = load_image(image_path);
  if (args.has("size")) image = resize_short_side(image, args.get_int("size", 0, 32, 4096));
  const Vgg16 vgg = Vgg16::load(args.get("weights", ""));
  NoGradGuard no_grad;
  const auto features = vgg.features(image.to(device), layers);  // the writers copy to host memory

  // Each file appears whole or not at all (atomic writes); if a later one fails, the earlier
  // ones are removed again, so a failed run leaves no output.
  std::vector<fs::path> written;
  try {
    if (npz) {
      write_file_atomic(out, [&](ByteSink& sink) {
        ZipWriter zip(sink);
        for (const auto& name : layers) zip.add(name + ".npy", encode_npy(features.at(name)));
        zip.finish();
      });
      written.push_back(out);
    } else {
      const auto paths = npy_paths(out, layers);
      for (size_t i = 0; i < layers.size(); ++i) {
        save_npy(paths[i], features.at(layers[i]));
        written.push_back(paths[i]);
      }
    }
  } catch (...) {
    std::error_code ec;
    for (const auto& p : written) fs::remove(p, ec);
    throw;
  }
  for (size_t i = 0; i < layers.size(); ++i)
    std::printf("%-8s %-20s -> %s\n", layers[i].c_str(), shape_str(features.at(layers[i]).shape()).c_str(),
                (npz ? out.string() + ":" + layers[i] + ".npy" : written[i].string()).c_str());
  std::printf("encoder %s\n", vgg.identity().str().c_str());
  return 0;
}

}  // namespace

extern const Command kFeaturesCommand = {
    "features", "write VGG16 activations of an image (.npy files or .npz)",
    "usage: stylenet features --image I --layers relu1_2,relu3_3 --out F.npy|F.npz [--weights W] [--size N] [--device D]\n"
    "Runs VGG16 on the image (RGB; the model applies ImageNet normalisation itself) and writes the\n"
    "requested layers' activations as float32 NCHW arrays [1, C, H, W]. --out F.npz: one archive\n"
    "(numpy.load reads it) with an entry <layer>.npy per layer. --out F.npy: that file for a single\n"
    "layer; for several, F_<layer>.npy beside it. On any error no output file is left.\n"
    "Layers: conv1_1 relu1_1 conv1_2 relu1_2 pool1 ... conv5_3 relu5_3 pool5.\n"
    "  --size N     resize so the shorter side is N pixels first (default: keep the size)\n"
    "  --device D   cpu (default), cuda or cuda:N (a build with STYLENET_CUDA and a GPU)\n"
    "  --weights W  VGG16 weights (.safetensors or .pth); default $STYLENET_WEIGHTS, else\n"
    "               ~/.cache/stylenet/vgg16.safetensors, else the deterministic stand-in\n",
    run};

}  // namespace sn::cli
