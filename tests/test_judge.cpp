// The Van Gogh judge (training/judge.h): its loss and network against finite differences, the
// split it learns on (held-out files only, disjoint parts, by file name alone), a short training
// run on real data that must learn something, the file round trip, and `stylenet judge` failing
// cleanly.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "autograd/gradcheck.h"
#include "vision/data.h"
#include "vision/image.h"
#include "training/judge.h"
#include "tests/run_process.h"
#include "tests/temp_dir.h"

using namespace sn;
using namespace sn::test;
namespace fs = std::filesystem;

namespace {

std::set<std::string> as_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

std::vector<std::string> names(int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back("img_" + std::to_string(1000 + i) + ".jpg");
  return v;
}

// The parts are pairwise disjoint, their union is exactly the held-out files, and none of them is
// a file the generator trains on.
void check_split(const std::vector<std::string>& files, int64_t holdout, JudgeRole role) {
  const JudgeSplit s = judge_split(files, holdout, role);
  const auto train = as_set(s.train), val = as_set(s.validation), score = as_set(s.score);
  const auto generator = as_set(holdout_split(files, holdout, false));
  std::set<std::string> all;
  for (const auto* part : {&train, &val, &score}) {
    all.insert(part->begin(), part->end());
    for (const auto& f : *part) CHECK(generator.count(f) == 0);
  }
  CHECK(all.size() == s.train.size() + s.validation.size() + s.score.size());  // disjoint, no repeats
  CHECK(all == as_set(holdout_split(files, holdout, true)));
  if (role == JudgeRole::Paintings) CHECK(s.score.empty());
  // Deterministic: the same list gives the same parts, in the same order.
  const JudgeSplit again = judge_split(files, holdout, role);
  CHECK(again.train == s.train);
  CHECK(again.validation == s.validation);
  CHECK(again.score == s.score);
}

}  // namespace

TEST_CASE("judge: BCE with logits matches its formula and finite differences, also at 0 and far out") {
  const std::vector<double> x = {-40.0, -3.0, -0.5, 0.0, 0.0, 0.7, 2.5, 40.0};
  const std::vector<double> y = {1.0, 0.0, 1.0, 1.0, 0.0, 0.3, 1.0, 0.0};
  const Tensor logits = Tensor::from_doubles(x, {8}, DType::Float64), targets = Tensor::from_doubles(y, {8}, DType::Float64);
  double ref = 0;
  for (size_t i = 0; i < x.size(); ++i) ref += std::log1p(std::exp(-std::abs(x[i]))) + std::max(x[i], 0.0) - x[i] * y[i];
  const double got = bce_with_logits(logits, targets).item();
  CHECK(std::isfinite(got));
  CHECK(got == doctest::Approx(ref / 8).epsilon(1e-12));

  // Gradients with respect to both logits and targets; x = 0 is where a relu-based softplus
  // would give -y instead of sigmoid(0) - y.
  Tensor lx = logits.clone_data(), ly = targets.clone_data();
  lx.set_requires_grad(true);
  ly.set_requires_grad(true);
  const GradcheckResult r = gradcheck([](const std::vector<Tensor>& in) { return bce_with_logits(in[0], in[1]); }, {lx, ly});
  CHECK_MESSAGE(r.ok, r.message);
  // And the analytic gradient itself: (sigmoid(x) - y) / n.
  Tensor g = logits.clone_data();
  g.set_requires_grad(true);
  backward(bce_with_logits(g, targets));
  const auto grad = g.grad().to_vector<double>();
  for (size_t i = 0; i < x.size(); ++i) CHECK(grad[i] == doctest::Approx((1 / (1 + std::exp(-x[i])) - y[i]) / 8).epsilon(1e-12));
  CHECK_THROWS_WITH_AS(bce_with_logits(logits, Tensor::zeros({4}, DType::Float64)), doctest::Contains("shape"), Error);
}

TEST_CASE("judge: the network's gradients match finite differences (input and parameters)") {
  Generator gen(5);
  JudgeConfig c;
  c.channels = {3, 4};
  c.crop = 8;
  Judge judge(c, &gen);
  judge.to(DType::Float64);
  Tensor x = Tensor::rand({2, 3, 9, 8}, gen, 0.0, 1.0, DType::Float64);  // odd side: padding and rounding
  x.set_requires_grad(true);
  const GradcheckResult rx = gradcheck([&](const std::vector<Tensor>& in) { return judge.forward(in[0]); }, {x});
  CHECK_MESSAGE(rx.ok, rx.message);
  for (const auto& [name, p] : judge.named_parameters()) {
    CAPTURE(name);
    const Tensor input = x.detach();
    const GradcheckResult rp = gradcheck(
        [&](const std::vector<Tensor>&) { return judge.forward(input); }, {p});
    CHECK_MESSAGE(rp.ok, rp.message);
  }
  CHECK(judge.forward(x.detach()).shape() == Shape{2});
  CHECK_THROWS_WITH_AS(judge.forward(Tensor::zeros({1, 3, 3, 8}, DType::Float64)), doctest::Contains("at least 4"), Error);
}

TEST_CASE("judge: the split uses held-out files only, in disjoint parts, by name alone") {
  for (int n : {0, 1, 4, 5, 13, 50, 199}) {
    CAPTURE(n);
    check_split(names(n), 4, JudgeRole::Paintings);
    check_split(names(n), 4, JudgeRole::Photos);
    check_split(names(n), 3, JudgeRole::Photos);
  }
  // The rule as documented: positions among the held-out files (indices 0, 4, 8, ...).
  const JudgeSplit p = judge_split(names(24), 4, JudgeRole::Paintings);  // held out: 1000, 1004, ..., 1020
  CHECK(p.train == std::vector<std::string>{"img_1000.jpg", "img_1004.jpg", "img_1012.jpg", "img_1016.jpg"});
  CHECK(p.validation == std::vector<std::string>{"img_1008.jpg", "img_1020.jpg"});
  const JudgeSplit q = judge_split(names(24), 4, JudgeRole::Photos);
  CHECK(q.train == std::vector<std::string>{"img_1000.jpg", "img_1012.jpg"});
  CHECK(q.validation == std::vector<std::string>{"img_1004.jpg", "img_1016.jpg"});
  CHECK(q.score == std::vector<std::string>{"img_1008.jpg", "img_1020.jpg"});
  CHECK_THROWS_AS(judge_split(names(8), 1, JudgeRole::Photos), Error);

  // The shared folders: what `stylenet train --holdout 4` leaves out, and nothing else.
  const auto paintings = list_images(data_root() + "/data/style/vangogh");
  const auto photos = list_images(data_root() + "/data/content");
  check_split(paintings, 4, JudgeRole::Paintings);
  check_split(photos, 4, JudgeRole::Photos);
  const JudgeSplit sp = judge_split(paintings, 4, JudgeRole::Paintings), sq = judge_split(photos, 4, JudgeRole::Photos);
  MESSAGE("judge split at holdout 4: paintings ", sp.train.size(), " train / ", sp.validation.size(),
          " validation; photos ", sq.train.size(), " / ", sq.validation.size(), " / ", sq.score.size(), " score");
  CHECK(sp.validation.size() >= 10);
  CHECK(sq.score.size() >= 50);
}

TEST_CASE("judge: a short training on real held-out data learns to tell paintings from photos") {
  JudgeTrainOptions o;  // the real split (34 + 85 train, 16 + 84 validation images), small crops: ~3 s
  o.steps = 150;
  o.batch = 8;
  o.crop = 64;
  o.lr = 2e-3;
  JudgeReport r;
  const auto judge = train_judge(o, r);
  MESSAGE("judge: ", r.seconds, " s; loss ", r.losses.front(), " -> ", r.losses.back(), "; validation loss ",
          r.initial_validation_loss, " -> ", r.validation_loss, ", accuracy paintings ", r.painting_accuracy,
          " photos ", r.photo_accuracy);
  REQUIRE(r.losses.size() == 150);
  const auto window_mean = [&](size_t from, size_t n) {
    double s = 0;
    for (size_t i = from; i < from + n; ++i) s += r.losses[i];
    return s / static_cast<double>(n);
  };
  // Measured over seeds 1-5: the mean training loss of steps 100-150 is 0.91-0.98 of steps 0-20's
  // (random crops in batches of 8: noisy), the validation loss 0.76-0.85 of its start, balanced
  // accuracy 0.69-0.78. Chance is a loss of log 2 and 0.5.
  CHECK(window_mean(100, 50) < window_mean(0, 20));             // it learns on its training batches
  CHECK(r.validation_loss < 0.85 * r.initial_validation_loss);  // ... and on images it never saw
  CHECK(r.balanced_accuracy() > 0.65);
  CHECK(judge->config().crop == 64);

  // The same options give the same judge (seeded initialisation and batches).
  o.steps = 3;
  JudgeReport a, b;
  train_judge(o, a);
  train_judge(o, b);
  CHECK(a.losses == b.losses);
}

TEST_CASE("judge: save and load give identical logits; other files are refused by name") {
  const TempDir dir("judge_file");
  Generator gen(9);
  JudgeConfig c;
  c.channels = {4, 8, 8};
  c.crop = 32;
  c.holdout = 5;
  Judge judge(c, &gen);
  const fs::path path = dir.path / "j.safetensors";
  judge.save(path, {{"note", "test"}});
  CHECK(dir.files() == std::vector<std::string>{"j.safetensors"});  // nothing temporary left
  const auto loaded = Judge::load(path);
  CHECK(loaded->config().channels == c.channels);
  CHECK(loaded->config().crop == 32);
  CHECK(loaded->config().holdout == 5);
  const std::vector<Tensor> images = {Tensor::rand({1, 3, 40, 57}, gen), Tensor::rand({1, 3, 32, 32}, gen)};
  CHECK(loaded->logits(images) == judge.logits(images));
  const auto meta = load_safetensors(path).metadata;
  CHECK(meta.at("format") == kJudgeFormat);
  CHECK(meta.at("split") == judge_split_description());
  CHECK(meta.at("note") == "test");

  CHECK_THROWS_WITH_AS(Judge::load(dir.path / "none.safetensors"), doctest::Contains("does not exist"), Error);
  save_safetensors(dir.path / "other.safetensors", judge.state_dict(), {{"format", "stylenet-model"}});
  CHECK_THROWS_WITH_AS(Judge::load(dir.path / "other.safetensors"), doctest::Contains("not a StyleNet judge file"), Error);
  save_safetensors(dir.path / "bad.safetensors", judge.state_dict(),
                   {{"format", kJudgeFormat}, {"channels", "4,8"}, {"crop", "32"}, {"holdout", "5"}});
  CHECK_THROWS_WITH_AS(Judge::load(dir.path / "bad.safetensors"), doctest::Contains("bad.safetensors"), Error);
  save_safetensors(dir.path / "crop.safetensors", judge.state_dict(),
                   {{"format", kJudgeFormat}, {"channels", "4,8,8"}, {"crop", "big"}, {"holdout", "5"}});
  CHECK_THROWS_WITH_AS(Judge::load(dir.path / "crop.safetensors"), doctest::Contains("crop"), Error);
}

TEST_CASE("cli: judge trains, scores, and fails with one line and no output") {
  const TempDir dir("cli_judge");
  const std::string judge = (dir.path / "j.safetensors").string();
  const ProcessResult t = run_cli({"judge", "train", "--out", judge, "--steps", "2", "--batch", "2", "--crop", "32",
                                   "--threads", "1", "--quiet"});
  CAPTURE(t.err);
  REQUIRE(t.status == 0);
  CHECK(t.out.find("validation: paintings") != std::string::npos);
  CHECK(dir.files() == std::vector<std::string>{"j.safetensors"});

  const auto paintings = judge_split(list_images(data_root() + "/data/style/vangogh"), 4, JudgeRole::Paintings);
  const std::string sheet = (dir.path / "sheet.png").string();
  const ProcessResult s = run_cli({"judge", "score", "--judge", judge, "--model", "default,default", "--style",
                                   paintings.validation.front(), "--size", "48", "--count", "3", "--quiet", "--header",
                                   "--sheet", sheet, "--sheet-rows", "2"});
  CAPTURE(s.err);
  CHECK(s.status == 0);
  CHECK(line_count(s.out) == 4);  // header, separator, a row per model
  CHECK(s.out.find("| default (") != std::string::npos);
  // Given photo files are scored as they are (no split).
  const auto samples = sample_images("content_");
  REQUIRE(samples.size() >= 2);
  const ProcessResult given = run_cli({"judge", "score", "--judge", judge, "--model", "default", "--style",
                                       paintings.validation.front(), "--size", "48", "--quiet", "--photos",
                                       samples[0] + "," + samples[1]});
  CAPTURE(given.err);
  CHECK(given.status == 0);
  CHECK(line_count(given.out) == 1);
  // The sheet: 2 rows of photo + two results, 256 px squares with 4 px gaps.
  const Tensor grid = load_image(sheet);
  CHECK(grid.size(2) == 2 * 256 + 4);
  CHECK(grid.size(3) == 3 * 256 + 2 * 4);

  struct Bad {
    std::vector<std::string> args;
    int status;
    const char* says;
  };
  const std::string out = (dir.path / "never.safetensors").string();
  const std::vector<Bad> bad = {
      {{"judge", "score", "--judge", (dir.path / "missing.safetensors").string(), "--model", "default"}, 1, "does not exist"},
      {{"judge", "score", "--judge", judge, "--model", (dir.path / "nomodel.safetensors").string()}, 1, "nomodel"},
      {{"judge", "score", "--judge", judge, "--model", judge}, 1, "j.safetensors"},
      {{"judge", "score", "--judge", judge}, 2, "--model"},
      {{"judge", "train", "--out", out, "--batch", "3"}, 2, "--batch"},
      {{"judge", "train", "--out", (dir.path / "j.txt").string()}, 2, ".safetensors"},
      {{"judge", "train", "--out", out, "--positive", (dir.path / "nowhere").string()}, 1, "nowhere"},
      {{"judge", "train", "--out", out, "--holdout", "1"}, 2, "--holdout"},
      {{"judge", "guess"}, 2, "guess"},
      {{"judge"}, 2, "train or score"},
  };
  for (const Bad& b : bad) {
    std::string joined;
    for (const auto& a : b.args) joined += a + " ";
    CAPTURE(joined);
    const ProcessResult r = run_cli(b.args);
    CAPTURE(r.err);
    CHECK(r.status == b.status);
    CHECK(line_count(r.err) == 1);
    CHECK(r.err.find(b.says) != std::string::npos);
  }
  CHECK(dir.files() == std::vector<std::string>{"j.safetensors", "sheet.png"});  // nothing new from the failures
}
