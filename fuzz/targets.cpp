#include "fuzz/targets.h"

#include "stylenet/style_model.h"
#include "tensor/error.h"
#include "training/train_options.h"
#include "vision/image.h"
#include "weights/checkpoint.h"
#include "weights/json.h"
#include "weights/npy.h"
#include "weights/pth.h"
#include "weights/safetensors.h"
#include "weights/zip_reader.h"

namespace sn::fuzz {

namespace {

// PyTorch .pth files as `stylenet convert` and Vgg16::from_file read them: the legacy container,
// the zip container, and the restricted unpickler inside both.
void pth(std::string_view bytes) { decode_pth(bytes, "fuzz.pth"); }

// The zip reader on its own (torch's zip container, NumPy's .npz): every entry it accepts must lie
// inside the archive and be found by name.
void zip(std::string_view bytes) {
  const ZipReader reader(bytes, "fuzz.zip");
  unsigned sum = 0;
  for (const auto& e : reader.entries()) {
    for (char c : reader.data(e)) sum += static_cast<unsigned char>(c);  // touch every byte it claims
    if (reader.find(e.name) == nullptr) __builtin_trap();
  }
  (void)sum;
}

// safetensors: the header's JSON, dtypes, shapes, offsets, metadata.
void safetensors(std::string_view bytes) { decode_safetensors(bytes, "fuzz.safetensors"); }

// .npy (also the entries of .npz archives): the magic, the header dict, shapes, dtypes.
void npy(std::string_view bytes) { decode_npy(bytes, "fuzz.npy"); }

void visit(const json::Value& v) {
  for (const auto& k : v.keys) (void)json::quote(k);
  for (const auto& item : v.items) visit(item);
  if (v.is(json::Value::Kind::String)) (void)json::quote(v.text);
}

// The strict JSON reader (safetensors headers, training logs); what it accepts must quote back.
void json_text(std::string_view bytes) { visit(json::parse(bytes, "fuzz.json")); }

// Style model files as `stylenet stylize --model` reads them: the format, version, shape, encoder
// and collection style in the metadata, then the state dict.
void model(std::string_view bytes) { StyleModel::decode(bytes, "fuzz.safetensors"); }

// Training checkpoints as `stylenet train --resume` reads them before training: the sections, step
// and seed, every recorded setting, the model's description and state dict.
void checkpoint(std::string_view bytes) {
  const Checkpoint ck = decode_checkpoint(bytes, "fuzz.safetensors");
  TrainOptions options;
  restore_settings(options, ck.info);
  check_settings(options);
  StyleModel::from_description(ck.info, "fuzz.safetensors").load_state_dict(ck.model);
}

// Images as every command reads them: the header checks and pixel budget, then stb_image. The
// budget is 64K pixels here so that time goes to the parsers, not to decoding large pictures.
void image(std::string_view bytes) { decode_image(bytes, "fuzz.img", 1 << 16); }

}  // namespace

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {
      {"pth", pth},   {"zip", zip},     {"safetensors", safetensors}, {"npy", npy},
      {"json", json_text}, {"model", model}, {"checkpoint", checkpoint}, {"image", image},
  };
  return all;
}

const Target& target(std::string_view name) {
  for (const Target& t : targets())
    if (name == t.name) return t;
  throw Error("no fuzz target '" + std::string(name) + "'");
}

void run_guarded(const Target& t, std::string_view bytes) {
  try {
    t.run(bytes);
  } catch (const Error&) {
  }
}

}  // namespace sn::fuzz
