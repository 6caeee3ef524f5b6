// The training settings table (training/train_options.h): every setting's text round trip, what a
// checkpoint records and restores, range checks, the help text, and how `stylenet train` applies
// the table (scopes, --resume).
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "tests/run_process.h"
#include "tests/temp_dir.h"
#include "training/train.h"
#include "weights/checkpoint.h"

using namespace sn;
using sn::test::run_cli;

namespace {

// A value for each setting unlike its default (and inside its range).
std::string other_value(const TrainSetting& s) {
  if (auto* f = std::get_if<TrainSetting::Integer>(&s.field)) {
    const std::string next = std::to_string(f->lo + 1);
    return next == setting_text(s, TrainOptions{}) ? std::to_string(f->lo + 2) : next;
  }
  if (std::holds_alternative<TrainSetting::Unsigned>(s.field)) return "77";
  if (std::holds_alternative<TrainSetting::Real>(s.field)) return "0.375";
  if (std::holds_alternative<TrainSetting::Text>(s.field)) return "/some/folder";
  if (std::holds_alternative<TrainSetting::Switch>(s.field)) return "1";
  const std::string choices = std::get<TrainSetting::Choice>(s.field).choices;
  return choices.substr(choices.rfind('|') + 1);  // the last choice; the default is the first
}

}  // namespace

TEST_CASE("train settings: flags and keys are unique; every setting reads back what it wrote") {
  std::set<std::string> flags, keys;
  for (const TrainSetting& s : train_settings()) {
    CAPTURE(s.flag);
    CHECK(flags.insert(s.flag).second);
    if (s.key) CHECK(keys.insert(s.key).second);
    TrainOptions o;
    const std::string before = setting_text(s, o), value = other_value(s);
    set_setting(s, o, value);
    CHECK(setting_text(s, o) == value);
    CHECK(value != before);
  }
}

TEST_CASE("train settings: a checkpoint's metadata restores every keyed setting; older ones keep the rest") {
  TrainOptions changed;
  for (const TrainSetting& s : train_settings()) set_setting(s, changed, other_value(s));
  const Metadata m = settings_metadata(changed);
  TrainOptions restored;
  restore_settings(restored, m);
  const TrainOptions defaults;
  for (const TrainSetting& s : train_settings()) {
    CAPTURE(s.flag);
    // Keyed settings come back; the others (checkpoint interval, sample interval, model shape) are
    // not part of what a resume continues.
    CHECK(setting_text(s, restored) == setting_text(s, s.key ? changed : defaults));
  }
  // A checkpoint written before a setting existed: that setting keeps the value it has.
  Metadata old = m;
  old.erase("w_stats");
  TrainOptions o;
  o.stats_weight = 2.5;
  restore_settings(o, old);
  CHECK(o.stats_weight == 2.5);
  CHECK(o.steps == changed.steps);
  old["steps"] = "many";
  CHECK_THROWS_WITH_AS(restore_settings(o, old), doctest::Contains("bad 'steps'"), Error);
}

TEST_CASE("train settings: numbers are range-checked and read back exactly") {
  const auto& table = train_settings();
  const auto find = [&](const std::string& flag) -> const TrainSetting& {
    for (const TrainSetting& s : table)
      if (flag == s.flag) return s;
    FAIL("no setting --", flag);
    return table.front();
  };
  TrainOptions o;
  CHECK_THROWS_WITH_AS(set_setting(find("steps"), o, "0"), doctest::Contains("from 1 to"), Error);
  CHECK_THROWS_AS(set_setting(find("steps"), o, "12x"), Error);
  CHECK_THROWS_AS(set_setting(find("style-weight"), o, "nan"), Error);
  CHECK_THROWS_WITH_AS(set_setting(find("stage"), o, "dreaming"), doctest::Contains("decoder, fusion or joint"), Error);
  CHECK_THROWS_AS(set_setting(find("tap"), o, "relu9_9"), Error);
  // The text a checkpoint records reads back to the same double, whatever its digits.
  for (double v : {0.1, 1.0 / 3.0, 2e-4, 12345.678901234567, 1e-20}) {
    set_setting(find("lr"), o, setting_text(find("lr"), [&] { TrainOptions t; t.lr = v; return t; }()));
    CHECK(o.lr == v);
  }
  // The library checks the same ranges.
  TrainOptions bad;
  bad.crop = 8;
  CHECK_THROWS_WITH_AS(check_settings(bad), doctest::Contains("crop"), Error);
  TrainOptions adv;
  adv.adversarial.real_dir = "art";
  CHECK_THROWS_WITH_AS(check_settings(adv), doctest::Contains("fusion or joint"), Error);
}

TEST_CASE("train settings: the help lists every setting with its default") {
  const std::string help = settings_help();
  const TrainOptions defaults;
  for (const TrainSetting& s : train_settings()) {
    CAPTURE(s.flag);
    const size_t at = help.find(std::string("  --") + s.flag + " ");
    REQUIRE(at != std::string::npos);
    const std::string line = help.substr(at, help.find('\n', at) - at);
    if (!is_switch(s) && !setting_text(s, defaults).empty())
      CHECK(line.find("(" + setting_text(s, defaults) + ")") != std::string::npos);
  }
}

TEST_CASE("cli: train applies the table: scopes, --resume refusing what the checkpoint fixes") {
  sn::test::TempDir dir("cli_settings");
  const std::string run = (dir.path / "r").string();
  struct Case {
    std::vector<std::string> args;
    const char* message;
  };
  const std::vector<Case> cases = {
      {{"--stage", "fusion", "--pixel-weight", "2"}, "--pixel-weight applies only to --stage decoder"},
      {{"--style-weight", "2"}, "--style-weight applies only to --stage fusion or joint"},
      {{"--resume", "--lr", "0.1"}, "drop --lr"},
      {{"--resume", "--init", "m.safetensors"}, "drop --init"},
      {{"--init", "m.safetensors", "--k", "4"}, "--k sets the shape of a new model"},
      {{"--lr", "fast"}, "--lr: expects a number"},
      {{"--stage", "fusion", "--d-base", "8"}, "need --adversarial"},
      {{"--fusion-start", "wct"}, "--fusion-start applies only to --stage fusion or joint"},
      {{"--resume", "--fusion-start", "wct"}, "continues W as it was; drop --fusion-start"},
      {{"--stage", "fusion", "--fusion-start", "lst"}, "--fusion-start: unknown fusion start 'lst'"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {"train", "--run", run};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const sn::test::ProcessResult r = run_cli(argv);
    CAPTURE(r.err);
    CHECK(r.status == 2);
    CHECK(r.err.find(c.message) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  CHECK_FALSE(std::filesystem::exists(run));
}

TEST_CASE("train settings: --clip-grad bounds the generator's gradient norm, logged and recorded") {
  sn::test::TempDir dir("clip");
  TrainOptions o;
  o.run_dir = (dir.path / "run").string();
  o.steps = 2;
  o.batch = 1;
  o.crop = 32;
  o.max_images = 2;
  o.sample_every = 0;
  o.model.decoder_width = 0.125;
  o.clip_grad = 1e-3;
  const TrainReport r = train_style_model(o);
  REQUIRE(r.losses.count("grad_norm"));
  for (double n : r.losses.at("grad_norm")) CHECK(n > 1e-3);  // the norm before clipping
  CHECK(load_checkpoint(dir.path / "run" / "checkpoint.safetensors").info.at("clip_grad") == "0.001");
}
