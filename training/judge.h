// The Van Gogh judge: a small CNN trained with this engine to tell Van Gogh paintings from
// photos, used to report how often stylized photos pass for Van Gogh.
//
// It must never see what the generator trained on. `stylenet train --holdout N` trains the
// generator (and its discriminator) on holdout_split(files, N, false) of every folder; the judge
// uses only holdout_split(files, N, true), divided by position j in that held-out list:
//   paintings (positives): j % 3 != 2 -> judge-train, j % 3 == 2 -> judge-validation
//   photos (negatives):    j % 3 == 0 -> judge-train, j % 3 == 1 -> judge-validation,
//                          j % 3 == 2 -> score (the photos that get stylized and judged)
// Thirds rather than halves for the paintings: they are scarce (50 held out of 199 at N = 4) and
// need no score part, so two thirds train. The rule depends only on the sorted file names.
//
// Network (JudgeConfig::channels = c1..cn):
//   x * 2 - 1, then per i: Conv(c_{i-1} -> c_i, 4x4, stride 2, pad 1), LeakyReLU(0.2)
//   global average pool -> Linear(cn -> 1)                              -> one logit per image
// Fully convolutional up to the pool, so any input side >= 2^n works; P(Van Gogh) = sigmoid(logit).
// It sees images the same way in validation and scoring: judge_view (short side resized to the
// crop it was trained at, centre square), so a score is comparable to the validation accuracy.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "layers/layers.h"
#include "stylenet/finish.h"
#include "stylenet/stylize.h"
#include "weights/safetensors.h"

namespace sn {

// The "format" metadata value of a judge file.
inline constexpr const char* kJudgeFormat = "stylenet-judge";

struct JudgeConfig {
  std::vector<int64_t> channels = {16, 32, 64, 64};  // one stride-2 conv each
  int64_t crop = 128;   // the side it is trained on and looks at (judge_view)
  int64_t holdout = 4;  // the holdout_split it was trained within (score photos come from the same)
};

// A folder's held-out files divided as described above. Throws unless holdout > 1.
struct JudgeSplit {
  std::vector<std::string> train, validation, score;  // score: photos only
};
enum class JudgeRole { Paintings, Photos };
JudgeSplit judge_split(const std::vector<std::string>& files, int64_t holdout, JudgeRole role);
// One line describing the rule, stored in judge files.
std::string judge_split_description();

class Judge : public Module {
 public:
  explicit Judge(const JudgeConfig& config = {}, Generator* gen = nullptr);

  // images [N, 3, H, W] in [0, 1] -> logits [N] (differentiable).
  Tensor forward(const Tensor& images) override;
  std::string extra_repr() const override;

  // The logit of each image ([1, 3, h, w] in [0, 1], any size) seen through judge_view;
  // inference only (no graph), in batches.
  std::vector<double> logits(const std::vector<Tensor>& images) const;
  // P(Van Gogh) = sigmoid(logit) of each image, the same way.
  std::vector<double> probabilities(const std::vector<Tensor>& images) const;

  // Safetensors with metadata format, channels, crop, holdout, split (plus `extra`), atomically.
  void save(const std::filesystem::path& path, const Metadata& extra = {}) const;
  // Throws sn::Error naming the file when it is missing, not a judge file, or inconsistent.
  static std::unique_ptr<Judge> load(const std::filesystem::path& path);

  const JudgeConfig& config() const { return config_; }
  int64_t min_input_size() const { return int64_t{1} << config_.channels.size(); }

  std::shared_ptr<Sequential> features;
  std::shared_ptr<Linear> head;

 private:
  Tensor run(const Tensor& images) const;
  JudgeConfig config_;
};

// The judge's deterministic view of an image [1, 3, h, w]: short side resized to `crop`, centre
// square cut out -> [1, 3, crop, crop].
Tensor judge_view(const Tensor& image, int64_t crop);

// Mean binary cross-entropy of logits against targets in [0, 1] (same shape), computed stably as
//   softplus(x) - x*y,  softplus(x) = (x + |x|)/2 + log(1 + exp(-|x|))
// which never exponentiates a positive number. (x + |x|)/2 is relu(x), but written this way its
// autograd derivative at x = 0 is 1/2 (abs' (0) = 0), so the gradient is exactly sigmoid(x) - y
// everywhere; relu(x) there would give -y at x = 0.
Tensor bce_with_logits(const Tensor& logits, const Tensor& targets);

struct JudgeTrainOptions {
  std::string positive_dir;  // default: $STYLENET_DATA/data/style/vangogh
  std::string negative_dir;  // default: $STYLENET_DATA/data/content
  int64_t holdout = 4;       // must match the generator's `stylenet train --holdout`
  int64_t steps = 400;
  int64_t batch = 16;        // even: half paintings, half photos
  int64_t crop = 128;
  double lr = 1e-3;
  uint64_t seed = 1;
  int64_t max_images = 0;    // > 0: only the first this many judge-train files of each class (tests)
  std::vector<int64_t> channels = JudgeConfig{}.channels;
};

struct JudgeReport {
  std::vector<double> losses;  // training loss per step
  int64_t train_paintings = 0, train_photos = 0, validation_paintings = 0, validation_photos = 0;
  double initial_validation_loss = 0;  // balanced BCE on the validation images before training
  double validation_loss = 0;          // ... and after
  double painting_accuracy = 0;        // validation paintings called Van Gogh (p > 0.5)
  double photo_accuracy = 0;           // validation photos called photo
  double seconds = 0;
  double balanced_accuracy() const { return (painting_accuracy + photo_accuracy) / 2; }
};

// Trains a judge from a seed (same options -> same judge). `progress` sees (step, loss) each step.
std::unique_ptr<Judge> train_judge(const JudgeTrainOptions& options, JudgeReport& report,
                                   const std::function<void(int64_t, double)>& progress = nullptr);

struct JudgeScore {
  int64_t images = 0;
  double stylized_fraction = 0;  // stylized photos called Van Gogh (p > 0.5)
  double stylized_mean_p = 0;
  double edge_ssim = 0;          // mean edge_ssim(stylized, photo): how much structure survives
  double photo_fraction = 0;     // the same photos, unstylized, called Van Gogh (the baseline)
  double photo_mean_p = 0;
  double seconds = 0;
  // The first few photos (as stylized, after resizing) and their results, for contact sheets.
  static constexpr size_t kExamples = 8;
  std::vector<Tensor> example_photos, example_results;
};

// Stylizes each photo (short side resized to `size` first; 0 = as is) with `model` and `styles`
// (empty: the model's built-in style), finishes the results as `stylize` does, and judges the
// results and the photos.
JudgeScore score_stylized(const Judge& judge, const Vgg16& encoder, const StyleModel& model,
                          const std::vector<Tensor>& photos, const std::vector<StyleImage>& styles, int64_t size,
                          const std::function<void(int64_t)>& progress = nullptr, const StylizeOptions& options = {},
                          const FinishOptions& finishing = {});

// Markdown: the header (two lines) and one row for `name`.
std::string judge_table_header();
std::string judge_table_row(const std::string& name, const JudgeScore& score);

}  // namespace sn
