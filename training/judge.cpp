#include "training/judge.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "autograd/grad_mode.h"
#include "optim/adam.h"
#include "vision/data.h"
#include "training/evaluate.h"
#include "vision/image.h"
#include "vision/loader.h"
#include "tensor/error.h"

namespace sn {

namespace {

constexpr double kSlope = 0.2;       // LeakyReLU, as the GAN discriminator
constexpr int64_t kInferBatch = 32;  // images per forward pass when judging
constexpr int64_t kMaxLayers = 8;

void check_config(const JudgeConfig& c) {
  SN_CHECK(!c.channels.empty() && static_cast<int64_t>(c.channels.size()) <= kMaxLayers,
           "Judge: 1 to ", kMaxLayers, " conv layers, got ", c.channels.size());
  for (int64_t ch : c.channels) SN_CHECK(ch >= 1 && ch <= 4096, "Judge: channel count ", ch, " out of range");
  SN_CHECK(c.crop >= (int64_t{1} << c.channels.size()) && c.crop <= 4096, "Judge: crop ", c.crop,
           " is too small for ", c.channels.size(), " stride-2 layers (or above 4096)");
  SN_CHECK(c.holdout > 1, "Judge: holdout must be > 1 (the judge only sees held-out files), got ", c.holdout);
}

std::string join(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(v[i]);
  }
  return s;
}

// A whole decimal integer in [lo, hi] from a metadata entry; throws naming the file.
int64_t parse_int(const std::string& text, const std::string& key, const std::string& source, int64_t lo, int64_t hi) {
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = std::string::npos;
  }
  SN_CHECK(used == text.size() && !text.empty() && v >= lo && v <= hi, "judge file '", source, "': metadata ", key,
           " = '", text, "' is not an integer in [", lo, ", ", hi, "]");
  return v;
}

double softplus(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }

std::vector<Tensor> load_views(const std::vector<std::string>& files, int64_t crop) {
  std::vector<Tensor> out;
  out.reserve(files.size());
  for (const auto& f : files) out.push_back(judge_view(load_image(f), crop));
  return out;
}

}  // namespace

// ---------------------------------------------------------------- split

JudgeSplit judge_split(const std::vector<std::string>& files, int64_t holdout, JudgeRole role) {
  SN_CHECK(holdout > 1, "judge_split: holdout must be > 1, got ", holdout);
  const auto held = holdout_split(files, holdout, true);
  JudgeSplit s;
  for (size_t j = 0; j < held.size(); ++j) {
    const size_t third = j % 3;
    if (role == JudgeRole::Paintings)
      (third == 2 ? s.validation : s.train).push_back(held[j]);
    else
      (third == 0 ? s.train : third == 1 ? s.validation : s.score).push_back(held[j]);
  }
  return s;
}

std::string judge_split_description() {
  return "held-out files only (holdout_split: index % holdout == 0 of each sorted folder); position j among them: "
         "paintings j%3<2 train, j%3==2 validation; photos j%3==0 train, 1 validation, 2 score";
}

// ---------------------------------------------------------------- the network

Judge::Judge(const JudgeConfig& config, Generator* gen) : Module("Judge"), config_(config) {
  check_config(config);
  features = register_module("features", std::make_shared<Sequential>());
  int64_t in = 3;
  for (int64_t out : config.channels) {
    Conv2dConfig cc;
    cc.stride = 2;
    cc.padding = 1;
    features->push_back(std::make_shared<Conv2d>(in, out, 4, cc, gen));
    features->push_back(std::make_shared<LeakyReLU>(kSlope));
    in = out;
  }
  head = register_module("head", std::make_shared<Linear>(in, 1, true, gen));
}

Tensor Judge::forward(const Tensor& images) { return run(images); }

// forward() without the non-const signature Module imposes: the layers are only read.
Tensor Judge::run(const Tensor& images) const {
  SN_CHECK(images.defined() && images.dim() == 4 && images.size(1) == 3, "Judge: expects RGB images [N, 3, H, W], got ",
           images.defined() ? shape_str(images.shape()) : "undefined");
  SN_CHECK(images.size(2) >= min_input_size() && images.size(3) >= min_input_size(), "Judge: images must be at least ",
           min_input_size(), " px on each side, got ", images.size(2), "x", images.size(3));
  const Tensor f = features->forward(images * 2.0 - 1.0);
  const Tensor pooled = mean(f, {2, 3});     // [N, C]: global average pool
  return reshape(head->forward(pooled), {-1});  // [N]
}

std::string Judge::extra_repr() const {
  return "channels=[" + join(config_.channels) + "], crop=" + std::to_string(config_.crop) +
         ", holdout=" + std::to_string(config_.holdout);
}

std::vector<double> Judge::logits(const std::vector<Tensor>& images) const {
  NoGradGuard no_grad;
  std::vector<double> out;
  out.reserve(images.size());
  for (size_t b = 0; b < images.size(); b += kInferBatch) {
    std::vector<Tensor> views;
    for (size_t i = b; i < std::min(images.size(), b + kInferBatch); ++i) views.push_back(judge_view(images[i], config_.crop));
    const Tensor batch_logits = run(cat(views, 0));
    for (float x : batch_logits.contiguous().to_vector<float>()) out.push_back(x);
  }
  return out;
}

std::vector<double> Judge::probabilities(const std::vector<Tensor>& images) const {
  std::vector<double> p = logits(images);
  for (double& x : p) x = 1.0 / (1.0 + std::exp(-x));
  return p;
}

void Judge::save(const std::filesystem::path& path, const Metadata& extra) const {
  Metadata m = extra;
  m["format"] = kJudgeFormat;
  m["channels"] = join(config_.channels);
  m["crop"] = std::to_string(config_.crop);
  m["holdout"] = std::to_string(config_.holdout);
  m["split"] = judge_split_description();
  save_safetensors(path, state_dict(), m);  // atomic (weights/atomic_file.h)
}

std::unique_ptr<Judge> Judge::load(const std::filesystem::path& path) {
  const std::string src = path.string();
  SN_CHECK(std::filesystem::is_regular_file(path), "judge file '", src, "' does not exist");
  const SafetensorsContents file = load_safetensors(path);
  const auto get = [&](const std::string& key) {
    auto it = file.metadata.find(key);
    SN_CHECK(it != file.metadata.end(), "judge file '", src, "' has no metadata '", key, "'");
    return it->second;
  };
  auto format = file.metadata.find("format");
  SN_CHECK(format != file.metadata.end() && format->second == kJudgeFormat, "'", src,
           "' is not a StyleNet judge file (metadata format is '",
           format == file.metadata.end() ? std::string("missing") : format->second, "', expected '", kJudgeFormat, "')");
  JudgeConfig c;
  c.channels.clear();
  std::stringstream channels(get("channels"));
  for (std::string part; std::getline(channels, part, ',');)
    c.channels.push_back(parse_int(part, "channels", src, 1, 4096));
  SN_CHECK(!c.channels.empty() && static_cast<int64_t>(c.channels.size()) <= kMaxLayers, "judge file '", src,
           "': metadata channels = '", get("channels"), "' is not 1 to ", kMaxLayers, " channel counts");
  c.crop = parse_int(get("crop"), "crop", src, int64_t{1} << c.channels.size(), 4096);
  c.holdout = parse_int(get("holdout"), "holdout", src, 2, 1000000);
  auto judge = std::make_unique<Judge>(c);
  try {
    judge->load_state_dict(file.tensors);
  } catch (const std::exception& e) {
    throw Error("judge file '" + src + "': " + e.what());
  }
  return judge;
}

Tensor judge_view(const Tensor& image, int64_t crop) {
  SN_CHECK(image.defined() && image.dim() == 4 && image.size(0) == 1 && image.size(1) == 3,
           "judge_view: expects one RGB image [1, 3, H, W]");
  // Already at the crop's scale (e.g. a view of a view): resampling to the same size is not the
  // identity (the filter blurs), so leave it be.
  const Tensor r = std::min(image.size(2), image.size(3)) == crop ? image : resize_short_side(image, crop);
  const int64_t top = (r.size(2) - crop) / 2, left = (r.size(3) - crop) / 2;
  return slice(slice(r, 2, top, top + crop), 3, left, left + crop).contiguous();
}

Tensor bce_with_logits(const Tensor& logits, const Tensor& targets) {
  SN_CHECK(logits.shape() == targets.shape(), "bce_with_logits: logits ", shape_str(logits.shape()), " and targets ",
           shape_str(targets.shape()), " differ in shape");
  const Tensor a = abs(logits);
  const Tensor soft = (logits + a) * 0.5 + log(exp(-a) + 1.0);
  return mean(soft - logits * targets);
}

// ---------------------------------------------------------------- training

std::unique_ptr<Judge> train_judge(const JudgeTrainOptions& o, JudgeReport& report,
                                   const std::function<void(int64_t, double)>& progress) {
  SN_CHECK(o.steps >= 0 && o.batch >= 2 && o.batch % 2 == 0, "train_judge: steps >= 0 and an even batch >= 2 needed");
  const auto t0 = std::chrono::steady_clock::now();
  const std::string pos_dir = o.positive_dir.empty() ? data_root() + "/data/style/vangogh" : o.positive_dir;
  const std::string neg_dir = o.negative_dir.empty() ? data_root() + "/data/content" : o.negative_dir;
  JudgeSplit pos = judge_split(list_images(pos_dir), o.holdout, JudgeRole::Paintings);
  JudgeSplit neg = judge_split(list_images(neg_dir), o.holdout, JudgeRole::Photos);
  if (o.max_images > 0) {
    for (auto* s : {&pos, &neg}) {
      if (static_cast<int64_t>(s->train.size()) > o.max_images) s->train.resize(o.max_images);
      if (static_cast<int64_t>(s->validation.size()) > o.max_images) s->validation.resize(o.max_images);
    }
  }
  SN_CHECK(!pos.train.empty() && !pos.validation.empty(), "train_judge: '", pos_dir,
           "' has too few held-out paintings for a train and a validation part (holdout ", o.holdout, ")");
  SN_CHECK(!neg.train.empty() && !neg.validation.empty(), "train_judge: '", neg_dir,
           "' has too few held-out photos for a train and a validation part (holdout ", o.holdout, ")");
  report = {};
  report.train_paintings = static_cast<int64_t>(pos.train.size());
  report.train_photos = static_cast<int64_t>(neg.train.size());
  report.validation_paintings = static_cast<int64_t>(pos.validation.size());
  report.validation_photos = static_cast<int64_t>(neg.validation.size());

  JudgeConfig config;
  config.channels = o.channels;
  config.crop = o.crop;
  config.holdout = o.holdout;
  Generator gen(o.seed);
  auto judge = std::make_unique<Judge>(config, &gen);

  const std::vector<Tensor> val_pos = load_views(pos.validation, o.crop), val_neg = load_views(neg.validation, o.crop);
  // One pass over the validation views: the balanced BCE (each class counts half, whatever the
  // class sizes) and each class's accuracy (p > 0.5, i.e. logit > 0, means painting).
  struct Validation {
    double loss = 0, accuracy[2] = {0, 0};
  };
  const auto validate = [&] {
    Validation v;
    for (int c = 0; c < 2; ++c) {
      const auto x = judge->logits(c == 0 ? val_pos : val_neg);
      double l = 0;
      int64_t right = 0;
      for (double z : x) {
        l += softplus(z) - (c == 0 ? z : 0.0);
        right += (z > 0) == (c == 0);
      }
      v.loss += l / static_cast<double>(x.size()) / 2;
      v.accuracy[c] = static_cast<double>(right) / static_cast<double>(x.size());
    }
    return v;
  };
  report.initial_validation_loss = validate().loss;

  LoaderOptions lo;
  lo.crop = o.crop;
  lo.batch = o.batch / 2;
  lo.seed = o.seed;
  lo.stream = 1;
  ImageLoader paintings(pos.train, lo);
  lo.stream = 2;
  ImageLoader photos(neg.train, lo);
  const Tensor targets = cat({Tensor::ones({o.batch / 2}), Tensor::zeros({o.batch / 2})}, 0);
  AdamOptions ao;
  ao.lr = o.lr;
  Adam adam(judge->parameters(), ao);
  for (int64_t step = 0; step < o.steps; ++step) {
    const Tensor x = cat({paintings.batch(step), photos.batch(step)}, 0);
    adam.zero_grad();
    const Tensor loss = bce_with_logits(judge->forward(x), targets);
    backward(loss);
    adam.step();
    report.losses.push_back(loss.item());
    if (progress) progress(step, report.losses.back());
  }

  const Validation v = validate();
  report.validation_loss = v.loss;
  report.painting_accuracy = v.accuracy[0];
  report.photo_accuracy = v.accuracy[1];
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return judge;
}

// ---------------------------------------------------------------- scoring

JudgeScore score_stylized(const Judge& judge, const Vgg16& encoder, const StyleModel& model,
                          const std::vector<Tensor>& photos, const std::vector<StyleImage>& styles, int64_t size,
                          const std::function<void(int64_t)>& progress, const StylizeOptions& options,
                          const FinishOptions& finishing) {
  SN_CHECK(!photos.empty(), "score_stylized: no photos");
  const auto t0 = std::chrono::steady_clock::now();
  JudgeScore s;
  s.images = static_cast<int64_t>(photos.size());
  std::vector<Tensor> inputs, stylized;
  for (size_t i = 0; i < photos.size(); ++i) {
    inputs.push_back(size > 0 ? resize_short_side(photos[i], size) : photos[i]);
    stylized.push_back(finish(stylize(encoder, model, inputs.back(), styles, options), inputs.back(), styles, finishing));
    s.edge_ssim += edge_ssim(stylized.back(), inputs.back());
    if (i < JudgeScore::kExamples) s.example_photos.push_back(inputs.back()), s.example_results.push_back(stylized.back());
    if (progress) progress(static_cast<int64_t>(i));
  }
  const auto judged = [&](const std::vector<Tensor>& images, double& fraction, double& mean_p) {
    for (double p : judge.probabilities(images)) {
      fraction += p > 0.5;
      mean_p += p;
    }
    fraction /= static_cast<double>(images.size());
    mean_p /= static_cast<double>(images.size());
  };
  judged(stylized, s.stylized_fraction, s.stylized_mean_p);
  judged(inputs, s.photo_fraction, s.photo_mean_p);
  s.edge_ssim /= static_cast<double>(photos.size());
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

std::string judge_table_header() {
  return "| model | called Van Gogh | mean p | edge SSIM | photos called Van Gogh |\n"
         "|---|---:|---:|---:|---:|\n";
}

std::string judge_table_row(const std::string& name, const JudgeScore& s) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "| %s | %.3f | %.3f | %.3f | %.3f |\n", name.c_str(), s.stylized_fraction,
                s.stylized_mean_p, s.edge_ssim, s.photo_fraction);
  return buf;
}

}  // namespace sn
