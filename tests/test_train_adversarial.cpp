// Adversarial training: D's terms logged, resume restores D, its optimizer, schedule and pool bit
// for bit; a diverging step stops the run naming the step and the term or layer.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "tests/style_fixtures.h"
#include "tests/temp_dir.h"
#include "tests/tensor_compare.h"
#include "weights/checkpoint.h"

using namespace sn;
using namespace sn::test;
namespace fs = std::filesystem;
using sn::test::max_abs_diff;

TEST_CASE("adversarial training: D's losses and accuracy are logged, resume restores D, its optimizer and the pool") {
  TempDir dir("adv");
  auto adv_run = [&](const std::string& name) {
    TrainOptions o = tiny_run(dir.path / name, TrainStage::Fusion, 10);
    o.adversarial.real_dir = data_root() + "/data/style/vangogh";
    o.adversarial.d = {.base = 4, .layers = 2, .spectral_norm = true, .scales = 2};
    o.adversarial.pool = 3;  // full after two steps of batch 2: both pool branches are exercised
    return o;
  };
  const TrainReport straight = train_style_model(adv_run("full"));
  for (const char* term : {"adv_g", "adv_d", "d_acc_real", "d_acc_fake"}) {
    CAPTURE(term);
    REQUIRE(straight.losses.count(term));
    for (double v : straight.losses.at(term)) CHECK(std::isfinite(v));
  }
  for (double a : straight.losses.at("d_acc_real")) CHECK((a >= 0 && a <= 1));

  TrainOptions part = adv_run("part");
  int calls = 0;
  const TrainReport first = train_style_model(part, [&](int64_t, int64_t, const auto&) {
    if (++calls == 5) request_training_stop();
  });
  REQUIRE(first.last_step == 5);
  TrainOptions again;
  again.run_dir = part.run_dir;
  again.resume = true;  // everything adversarial comes back from the checkpoint
  again.max_images = part.max_images;
  again.checkpoint_every = part.checkpoint_every;
  again.sample_every = 0;
  const TrainReport rest = train_style_model(again);
  for (const char* term : {"loss", "adv_d", "d_acc_fake"}) {
    CAPTURE(term);
    const std::vector<double>& all = straight.losses.at(term);
    CHECK(rest.losses.at(term) == std::vector<double>(all.begin() + 5, all.end()));
  }
  const Checkpoint a = load_checkpoint(dir.path / "full" / "checkpoint.safetensors");
  const Checkpoint b = load_checkpoint(dir.path / "part" / "checkpoint.safetensors");
  REQUIRE(a.extra.size() == b.extra.size());
  CHECK(a.extra.contains("disc.d1.model.0.weight_orig"));
  CHECK(a.extra.contains("pool.images"));
  // D's rate follows the generator's schedule: both end the run at a twentieth of their peak.
  CHECK(a.extra.at("disc_sched.last_step").item() == 10);
  CHECK(a.extra.at("disc_optim.param_groups.0.lr").item() == doctest::Approx(part.adversarial.d_lr / 20));
  CHECK(a.optimizer.at("param_groups.0.lr").item() == doctest::Approx(part.lr / 20));
  for (const auto& [k, v] : a.extra) CHECK(max_abs_diff(v, b.extra.at(k)) == 0.0);
}

TEST_CASE("adversarial training: a diverging step stops the run naming the step and the term or layer") {
  TempDir dir("nan");
  TrainOptions o = tiny_run(dir.path / "run", TrainStage::Fusion, 4);
  o.adversarial.real_dir = data_root() + "/data/style/vangogh";
  o.adversarial.d = {.base = 4, .layers = 2, .spectral_norm = false, .scales = 1};
  o.lr = 1e30;  // step 1 moves every weight by about lr (Adam): step 2's forward overflows
  std::string message;
  try {
    train_style_model(o);
  } catch (const Error& e) {
    message = e.what();
  }
  INFO(message);
  CHECK(message.find("at step 2") != std::string::npos);
  CHECK((message.find("layer '") != std::string::npos || message.find("loss term '") != std::string::npos));
  CHECK_FALSE(fs::exists(dir.path / "run" / "model.safetensors"));
}
