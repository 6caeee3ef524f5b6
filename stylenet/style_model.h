// The trained part of StyleNet: a decoder G and a learned fusion W on top of a frozen VGG16
// encoder F, saved together in one safetensors file with everything needed to use it again.
//
// A model only makes sense with the encoder it was trained on (the decoder inverts *those*
// features), so the file records the encoder's identity (Vgg16::identity().str()) and
// check_encoder() refuses any other with a clear message.
#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include "stylenet/decoder.h"
#include "stylenet/fusion.h"
#include "stylenet/vgg16.h"
#include "weights/safetensors.h"

namespace sn {

struct StyleModelConfig {
  std::string tap = "relu3_1";  // encoder tap the fusion works on ("relu3_1" or "relu4_1")
  double decoder_width = 0.5;   // Decoder hidden-channel multiplier
  int64_t k = 32;               // LearnedFusion's compressed channels
};

class StyleModel {
 public:
  StyleModel(const StyleModelConfig& config, std::string encoder_identity, Generator* gen = nullptr);

  // Reads a file written by save(); throws sn::Error naming the file for anything else.
  static StyleModel load(const std::filesystem::path& path);
  // Atomic write; F16 halves the file (the shipped default model), Native keeps it exact.
  void save(const std::filesystem::path& path, StoredDType stored = StoredDType::Native,
            const Metadata& extra = {}) const;

  // What identifies the model's shape and encoder, as strings: "tap", "decoder_width", "k",
  // "encoder". Model files and training checkpoints both carry it in their metadata.
  Metadata describe() const;
  // A model (freshly initialised) of the shape and encoder `m` describes; throws sn::Error naming
  // `source` for a missing, malformed or out-of-range entry.
  static StyleModel from_description(const Metadata& m, const std::string& source, Generator* gen = nullptr);

  // Throws unless `encoder` is the one this model was trained with.
  void check_encoder(const Vgg16& encoder) const;

  // "decoder.*" and "fusion.*" keys.
  TensorDict state_dict() const;
  void load_state_dict(const TensorDict& dict);

  const StyleModelConfig& config() const { return config_; }
  const std::string& encoder_identity() const { return encoder_identity_; }
  const Metadata& metadata() const { return metadata_; }  // as read by load()

  std::shared_ptr<Decoder> decoder;
  std::shared_ptr<LearnedFusion> fusion;

 private:
  StyleModelConfig config_;
  std::string encoder_identity_;
  Metadata metadata_;
};

// Where `stylenet stylize` looks for its model when none is given: $STYLENET_MODEL, else the
// default model shipped in the repository (models/default.safetensors, path compiled in).
std::filesystem::path default_model_path();

}  // namespace sn
