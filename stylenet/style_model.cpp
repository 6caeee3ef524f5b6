#include "stylenet/style_model.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "autograd/grad_mode.h"
#include "layers/init.h"
#include "tensor/error.h"

#ifndef STYLENET_MODELS_DIR
#define STYLENET_MODELS_DIR "models"
#endif

namespace sn {

namespace {

constexpr const char* kFormat = "stylenet-style-model";
constexpr const char* kVersion = "1";

const std::string& meta(const Metadata& m, const std::string& key, const std::string& source) {
  const auto it = m.find(key);
  SN_CHECK(it != m.end(), "'", source, "': its metadata lacks '", key, "'");
  return it->second;
}

std::string exact_text(double v) {
  std::ostringstream os;
  os.precision(17);  // round-trips the double exactly
  os << v;
  return os.str();
}

double parse_width(const std::string& text, const std::string& source) {
  double w = 0;
  try {
    w = std::stod(text);
  } catch (const std::logic_error&) {
    throw Error(detail::cat("'", source, "': malformed decoder width '", text, "' in its metadata"));
  }
  SN_CHECK(w > 0 && w <= 4, "'", source, "': decoder width out of range");
  return w;
}

// Depth of a decoder tap: its position in decoder_taps() (relu1_1 is 0).
int64_t tap_depth(const std::string& tap) {
  const auto& taps = decoder_taps();
  return std::find(taps.begin(), taps.end(), tap) - taps.begin();
}

std::shared_ptr<Decoder> level_decoder(const std::string& tap, double width) {
  auto d = std::make_shared<Decoder>(DecoderConfig{tap, width});
  d->eval();
  return d;
}

// A collection style is LST's T_s averaged over artworks: it has no covariance for the WCT part
// of a W that starts at WCT.
void check_collection_start(const StyleModelConfig& config, const char* where) {
  SN_CHECK(config.fusion_start == FusionStart::Identity, where,
           ": a collection style needs a W that starts at the identity; this model's starts at ",
           fusion_start_name(config.fusion_start));
}

// "relu2_1:1,relu1_1:1" -> levels with fresh decoders.
std::vector<StyleLevel> parse_levels(const std::string& text, const std::string& source) {
  std::vector<StyleLevel> levels;
  size_t start = 0;
  while (start < text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    const size_t colon = item.find(':');
    SN_CHECK(colon != std::string::npos, "'", source, "': malformed level '", item, "' (tap:width)");
    const std::string tap = item.substr(0, colon);
    SN_CHECK(tap_depth(tap) < static_cast<int64_t>(decoder_taps().size()), "'", source, "': unknown level tap '",
             tap, "'");
    levels.push_back({tap, level_decoder(tap, parse_width(item.substr(colon + 1), source))});
    start = comma + 1;
  }
  return levels;
}

}  // namespace

StyleModel::StyleModel(const StyleModelConfig& config, std::string encoder_identity, Generator* gen)
    : config_(config), encoder_identity_(std::move(encoder_identity)) {
  decoder = std::make_shared<Decoder>(DecoderConfig{config.tap, config.decoder_width}, gen);
  make_fusion(gen);
}

void StyleModel::take_fusion(const StyleModel& donor) {
  SN_CHECK(donor.config_.tap == config_.tap && donor.config_.k == config_.k,
           "take_fusion: W for tap ", donor.config_.tap, ", k ", donor.config_.k, " does not fit tap ", config_.tap,
           ", k ", config_.k);
  fusion = donor.fusion;
  config_.fusion_start = donor.config_.fusion_start;
}

void StyleModel::make_fusion(Generator* gen) {
  const FusionStart start = config_.fusion_start;
  fusion = std::make_shared<LearnedFusion>(Decoder::tap_channels(config_.tap), config_.k, gen, start);
  // Start W = T_s T_c near the identity: each branch's fc bias is the flattened k x k identity.
  // With PyTorch's default init both T's are tiny, so their product and its gradients are too,
  // and W barely moves in a CPU-sized run (LST trains for 160k steps). Near the identity the
  // fused features start as the content's own (projected through compress/unzip) with the
  // style's mean, and the style dependence is learned from there. Started at WCT, the same
  // product is the correction, and unzip starts at zero so that W is exactly WCT at step 0
  // (unzip's gradient, (T_s T_c z) times the loss's, is not zero, so it moves from there).
  NoGradGuard no_grad;
  const int64_t k = config_.k;
  for (const auto& branch : {fusion->snet, fusion->cnet}) {
    Tensor b = branch->fc->bias;
    std::vector<float> eye(k * k, 0.0f);
    for (int64_t i = 0; i < k; ++i) eye[i * k + i] = 1.0f;
    b.copy_from(Tensor::from_vector(eye, b.shape()));
  }
  if (start == FusionStart::WCT)
    for (Tensor p : fusion->unzip->parameters()) p.fill(0.0);
}

TensorDict StyleModel::state_dict() const {
  TensorDict all = decoder->state_dict().add_prefix("decoder.");
  for (const auto& [k, v] : fusion->state_dict().add_prefix("fusion.")) all.insert(k, v);
  for (const StyleLevel& l : levels)
    for (const auto& [k, v] : l.decoder->state_dict().add_prefix("level." + l.tap + ".")) all.insert(k, v);
  if (collection) {
    all.insert("collection.style_mean", collection->mean);
    all.insert("collection.style_matrix", collection->matrix);
  }
  return all;
}

void StyleModel::load_state_dict(const TensorDict& dict) {
  const TensorDict dec = dict.strip_prefix("decoder."), fus = dict.strip_prefix("fusion."),
                   col = dict.strip_prefix("collection."), lev = dict.strip_prefix("level.");
  const size_t used = dec.size() + fus.size() + col.size() + lev.size();
  SN_CHECK(used == dict.size(), "StyleModel: ", dict.size() - used,
           " keys are neither decoder.*, fusion.*, level.* nor collection.*");
  decoder->load_state_dict(dec);
  fusion->load_state_dict(fus);
  size_t level_keys = 0;
  for (const StyleLevel& l : levels) {
    const TensorDict d = lev.strip_prefix(l.tap + ".");
    l.decoder->load_state_dict(d);
    level_keys += d.size();
  }
  SN_CHECK(level_keys == lev.size(), "StyleModel: ", lev.size() - level_keys, " level.* keys belong to no level");
  if (col.empty()) return;
  check_collection_start(config_, "StyleModel");
  const Tensor* m = col.find("style_mean");
  const Tensor* t = col.find("style_matrix");
  const int64_t c = fusion->channels(), k = fusion->k();
  SN_CHECK(col.size() == 2 && m && t && m->shape() == Shape({1, c, 1, 1}) && t->shape() == Shape({1, k, k}),
           "StyleModel: the collection style must be style_mean [1, ", c, ", 1, 1] and style_matrix [1, ", k, ", ", k, "]");
  collection = CollectionStyle{collection ? collection->name : "", m->to(DType::Float32), t->to(DType::Float32)};
}

void StyleModel::save(const std::filesystem::path& path, StoredDType stored, const Metadata& extra) const {
  Metadata m = extra;
  for (const auto& [key, value] : describe()) m[key] = value;
  m["format"] = kFormat;
  m["format_version"] = kVersion;
  m["input"] = "RGB in [0, 1]; the encoder applies ImageNet mean/std itself";
  if (collection) m["collection"] = collection->name;
  save_safetensors(path, state_dict(), m, stored);
}

Metadata StyleModel::describe() const {
  Metadata m = {{"tap", config_.tap}, {"decoder_width", exact_text(config_.decoder_width)},
                {"k", std::to_string(config_.k)}, {"encoder", encoder_identity_}};
  if (config_.fusion_start != FusionStart::Identity) m["fusion_start"] = fusion_start_name(config_.fusion_start);
  std::string text;
  for (const StyleLevel& l : levels)
    text += (text.empty() ? "" : ",") + l.tap + ":" + exact_text(l.decoder->config().width);
  if (!text.empty()) m["levels"] = text;
  return m;
}

void StyleModel::push_level(StyleLevel level, const std::string& where) {
  const std::string& above = levels.empty() ? config_.tap : levels.back().tap;
  SN_CHECK(tap_depth(level.tap) < tap_depth(above), where, ": a level at ", level.tap, " must be shallower than ",
           above);
  levels.push_back(std::move(level));
}

void StyleModel::add_level(const StyleModel& other) {
  SN_CHECK(other.encoder_identity() == encoder_identity_, "add_level: the level's decoder was trained with encoder ",
           other.encoder_identity(), ", this model with ", encoder_identity_);
  const auto copy = [](const std::string& tap, const Decoder& from) {
    auto d = level_decoder(tap, from.config().width);
    d->load_state_dict(from.state_dict());
    return d;
  };
  push_level({other.config().tap, copy(other.config().tap, *other.decoder)}, "add_level");
  for (const StyleLevel& l : other.levels) push_level({l.tap, copy(l.tap, *l.decoder)}, "add_level");
}

StyleModel StyleModel::from_description(const Metadata& m, const std::string& source, Generator* gen) {
  StyleModelConfig cfg;
  cfg.tap = meta(m, "tap", source);
  cfg.decoder_width = parse_width(meta(m, "decoder_width", source), source);
  try {
    cfg.k = std::stoll(meta(m, "k", source));
  } catch (const std::logic_error&) {
    throw Error(detail::cat("'", source, "': malformed k in its metadata"));
  }
  SN_CHECK(cfg.k >= 1 && cfg.k <= 512, "'", source, "': k out of range");
  if (const auto start = m.find("fusion_start"); start != m.end()) try {
      cfg.fusion_start = parse_fusion_start(start->second);
    } catch (const Error& e) {
      throw Error(detail::cat("'", source, "': ", e.what()));
    }
  StyleModel model(cfg, meta(m, "encoder", source), gen);
  const auto levels = m.find("levels");
  if (levels != m.end())
    for (StyleLevel& l : parse_levels(levels->second, source)) model.push_level(std::move(l), "'" + source + "'");
  return model;
}

StyleModel StyleModel::load(const std::filesystem::path& path) {
  return from_contents(load_safetensors(path), path);
}

StyleModel StyleModel::decode(std::string_view bytes, const std::string& source) {
  return from_contents(decode_safetensors(bytes, source), source);
}

StyleModel StyleModel::from_contents(SafetensorsContents c, const std::filesystem::path& path) {
  const auto format = c.metadata.find("format");
  SN_CHECK(format != c.metadata.end() && format->second == kFormat, "'", path.string(),
           "' is not a StyleNet model (format '", format == c.metadata.end() ? "" : format->second, "')");
  SN_CHECK(meta(c.metadata, "format_version", path.string()) == kVersion, "'", path.string(),
           "': unsupported model version ", c.metadata.at("format_version"));
  StyleModel model = [&] {
    init::SkipRandomInit skip;  // every tensor comes from the file: the strict load below checks
    return from_description(c.metadata, path.string());
  }();
  try {
    model.load_state_dict(c.tensors);
  } catch (const Error& e) {
    throw Error(detail::cat("'", path.string(), "': ", e.what()));
  }
  model.metadata_ = c.metadata;
  if (model.collection) {
    const auto name = c.metadata.find("collection");
    model.collection->name = name == c.metadata.end() ? "collection" : name->second;
  }
  model.decoder->eval();
  model.fusion->eval();
  return model;
}

void StyleModel::to(Device device) {
  decoder->to(device);
  if (fusion) fusion->to(device);
  for (StyleLevel& level : levels) level.decoder->to(device);
  if (collection) {
    collection->mean = collection->mean.to(device);
    collection->matrix = collection->matrix.to(device);
  }
}

void StyleModel::check_encoder(const Vgg16& encoder) const {
  const std::string have = encoder.identity().str();
  SN_CHECK(have == encoder_identity_, "this model was trained with encoder ", encoder_identity_,
           " but the encoder in use is ", have,
           " (set STYLENET_WEIGHTS to the weights it was trained with, or 'standin')");
}

CollectionStyle collection_style(const Vgg16& encoder, const StyleModel& model, const std::vector<Tensor>& artworks,
                                 const std::string& name) {
  SN_CHECK(!artworks.empty(), "collection_style: no artworks");
  check_collection_start(model.config(), "collection_style");
  NoGradGuard no_grad;
  const std::string& tap = model.config().tap;
  const std::unique_ptr<Fusion> fusion = Fusion::make(FusionMethod::Learned, model.fusion.get());
  Tensor mean_sum, matrix_sum;
  for (const Tensor& a : artworks) {
    const StyleStatistics s = fusion->style_statistics(encoder.features(a, {tap}).at(tap));
    mean_sum = mean_sum.defined() ? mean_sum + s.mean : s.mean;
    matrix_sum = matrix_sum.defined() ? matrix_sum + s.transform : s.transform;
  }
  const double n = static_cast<double>(artworks.size());
  return {name, (mean_sum / n).contiguous(), (matrix_sum / n).contiguous()};
}

std::filesystem::path models_dir() {
  // Installed: <prefix>/share/stylenet/models, where <prefix>/lib[/<arch>] holds the library or
  // <prefix>/bin a program linked with the static one; found from where this code was loaded.
  Dl_info info{};
  std::error_code ec;
  if (dladdr(reinterpret_cast<void*>(&models_dir), &info) && info.dli_fname) {
    std::filesystem::path dir = std::filesystem::canonical(info.dli_fname, ec).parent_path();
    for (int up = 0; up < 3 && !ec; ++up, dir = dir.parent_path())
      if (std::filesystem::is_directory(dir.parent_path() / "share" / "stylenet" / "models", ec))
        return dir.parent_path() / "share" / "stylenet" / "models";
  }
  return STYLENET_MODELS_DIR;  // the source tree's models/
}

std::filesystem::path resolve_model_path(const std::string& name_or_path) {
  const std::filesystem::path p(name_or_path);
  if (std::filesystem::exists(p) || p.has_parent_path() || p.has_extension()) return p;
  const std::filesystem::path shipped = models_dir() / (name_or_path + ".safetensors");
  return std::filesystem::exists(shipped) ? shipped : p;
}

std::filesystem::path default_model_path() {
  const char* env = std::getenv("STYLENET_MODEL");
  if (env && *env) return env;
  return models_dir() / "default.safetensors";
}

}  // namespace sn
