// Writes the seed corpus of every harness: small valid files of each format, made by the same
// writers and test builders the test suites use, so that the fuzzer starts inside each parser's
// accepting paths. Usage: make_seeds OUTDIR (writes OUTDIR/<harness>/<name>).
#include <stb/stb_image_write.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "tensor/random.h"
#include "tests/vgg/pth_builder.h"
#include "training/train_options.h"
#include "vision/image.h"
#include "weights/atomic_file.h"
#include "weights/checkpoint.h"
#include "weights/npy.h"
#include "weights/safetensors.h"
#include "weights/zip_writer.h"

namespace fs = std::filesystem;
using namespace sn;

namespace {

fs::path g_out;

void seed(const std::string& harness, const std::string& name, const std::string& bytes) {
  fs::create_directories(g_out / harness);
  std::ofstream(g_out / harness / name, std::ios::binary) << bytes;
}

std::string floats(int n) {
  std::string b;
  for (int i = 0; i < n; ++i) {
    const float v = 0.25f * static_cast<float>(i);
    b.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  return b;
}

void pth_seeds() {
  const std::string one = test::one_tensor_pickle("features.0.weight", {2, 3});
  seed("pth", "legacy", test::legacy_pth(one, {{"0", floats(6)}}));
  seed("pth", "zip", test::zip_pth(one, {{"0", floats(6)}}));
  test::PickleBuilder two;
  two.ordered_dict().str("a").tensor("0", 4, 0, {2, 2}, {2, 1}).op('s').str("b").tensor("1", 3, 1, {2}, {1}).op('s');
  seed("pth", "two_tensors_zip", test::zip_pth(two.done(), {{"0", floats(4)}, {"1", floats(3)}}));
  seed("pth", "transposed", test::legacy_pth(test::PickleBuilder().ordered_dict().str("t")
                                                 .tensor("0", 6, 0, {3, 2}, {1, 3}).op('s').done(),
                                             {{"0", floats(6)}}));
}

void zip_seeds() {
  StringSink sink;
  ZipWriter zip(sink);
  zip.add("a.npy", encode_npy(Tensor::arange(5)));
  zip.add("dir/b.txt", "hello");
  zip.add("empty", "");
  zip.finish();
  seed("zip", "three_entries", sink.bytes);
  StringSink none;
  ZipWriter(none).finish();
  seed("zip", "empty_archive", none.bytes);
}

TensorDict small_dict() {
  Generator g(1);
  TensorDict d;
  d.insert("w", Tensor::randn({2, 3}, g));
  d.insert("b", Tensor::randn({3}, g, DType::Float64));
  d.insert("s", Tensor::scalar(2.5));
  d.insert("e", Tensor::zeros({0, 4}));
  return d;
}

void safetensors_seeds() {
  seed("safetensors", "native", encode_safetensors(small_dict(), {{"format", "pt"}, {"note", "seed"}}));
  seed("safetensors", "f16", encode_safetensors(small_dict(), {}, StoredDType::F16));
  seed("safetensors", "bf16", encode_safetensors(small_dict(), {}, StoredDType::BF16));
  seed("safetensors", "empty", encode_safetensors(TensorDict{}));
}

void npy_seeds() {
  Generator g(2);
  seed("npy", "f4_2d", encode_npy(Tensor::randn({3, 4}, g)));
  seed("npy", "f8_3d", encode_npy(Tensor::randn({2, 1, 3}, g, DType::Float64)));
  seed("npy", "scalar", encode_npy(Tensor::scalar(1.0)));
  seed("npy", "empty", encode_npy(Tensor::zeros({0})));
}

void json_seeds() {
  seed("json", "header", R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}})");
  seed("json", "values", R"([null,true,false,-0.5e+3,12,"a\u00e9\n\"",{},[],{"k":[1,[2,{"x":null}]]}])");
  seed("json", "log", R"({"step":1,"lr":0.001,"loss":0.5,"time":1.25})");
}

// A small model of each kind and a checkpoint of a run, written the way the product writes them.
void model_seeds() {
  const std::string encoder = "vgg16:standin:seed=20140904:sha256:00";
  Generator g(3);
  StyleModel m({"relu3_1", 0.05, 2}, encoder, &g);
  const fs::path tmp = fs::temp_directory_path() / "sn_seed.safetensors";
  m.save(tmp, StoredDType::F16);
  seed("model", "f16", read_file(tmp));
  m.collection = CollectionStyle{"few", Tensor::zeros({1, 256, 1, 1}), Tensor::zeros({1, 2, 2})};
  m.save(tmp, StoredDType::F16);
  seed("model", "collection", read_file(tmp));
  // The same metadata with few or no tensors: small inputs, so that the fuzzer's mutations land in
  // the metadata and the state-dict checks rather than in megabytes of weights.
  const SafetensorsContents full = load_safetensors(tmp);
  seed("model", "metadata_only", encode_safetensors(TensorDict{}, full.metadata));
  TensorDict collection_only;
  for (const auto& [k, v] : full.tensors)
    if (k.rfind("collection.", 0) == 0) collection_only.insert(k, v);
  seed("model", "collection_tensors_only", encode_safetensors(collection_only, full.metadata));

  TrainOptions o;
  o.adversarial.real_dir = "art";
  Checkpoint ck;
  ck.model = m.state_dict();
  ck.step = 7;
  ck.seed = 5;
  ck.info = m.describe();
  ck.info.merge(settings_metadata(o));
  ck.info["w_trained"] = "1";
  save_checkpoint(tmp, ck);
  seed("checkpoint", "run", read_file(tmp));
  ck.model = TensorDict{};
  save_checkpoint(tmp, ck);
  seed("checkpoint", "metadata_only", read_file(tmp));
  fs::remove(tmp);
}

void image_seeds() {
  unsigned char rgb[6 * 5 * 3];
  for (int i = 0; i < 6 * 5 * 3; ++i) rgb[i] = static_cast<unsigned char>(i * 7);
  auto sink = [](void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), size); };
  std::map<std::string, std::string> files;
  stbi_write_png_to_func(sink, &files["png"], 6, 5, 3, rgb, 18);
  stbi_write_jpg_to_func(sink, &files["jpg"], 6, 5, 3, rgb, 80);
  stbi_write_bmp_to_func(sink, &files["bmp"], 6, 5, 3, rgb);
  stbi_write_tga_to_func(sink, &files["tga"], 6, 5, 3, rgb);
  for (const auto& [name, bytes] : files) seed("image", name, bytes);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds OUTDIR\n");
    return 2;
  }
  g_out = argv[1];
  pth_seeds();
  zip_seeds();
  safetensors_seeds();
  npy_seeds();
  json_seeds();
  model_seeds();
  image_seeds();
  return 0;
}
