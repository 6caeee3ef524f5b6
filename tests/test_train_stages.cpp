// Staged training: the decoder and fusion stages lower held-out losses, resume is bit-identical,
// a decoder stage keeps a finished model's W, the decoder stage's statistics term.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "optim/optim.h"
#include "tests/style_fixtures.h"
#include "tests/temp_dir.h"
#include "tests/tensor_compare.h"
#include "weights/checkpoint.h"

using namespace sn;
using namespace sn::test;
namespace fs = std::filesystem;
using sn::test::max_abs_diff;

TEST_CASE("training: decoder then fusion stages lower their losses; resume is bit-identical") {
  TempDir dir("train");
  // Losses on fixed held-out batches, before and after: per-step training losses are too noisy to
  // compare (every batch has other styles).
  const Tensor cx = held_out_batch("content", 99), sx = held_out_batch("style", 99, 1);
  auto held_out = [&](const TrainOptions& o, const StyleModel& m) { return stage_loss(standin_encoder(), m, o, cx, sx).terms; };

  const TrainOptions dec_opt = tiny_run(dir.path / "dec", TrainStage::Decoder, 30);
  Generator init(dec_opt.seed, 11);  // what the trainer draws a fresh model from
  const auto dec_before = held_out(dec_opt, StyleModel(dec_opt.model, standin_encoder().identity().str(), &init));
  train_style_model(dec_opt);
  REQUIRE(fs::exists(dir.path / "dec" / "model.safetensors"));
  CHECK(fs::exists(dir.path / "dec" / "loss.png"));
  const StyleModel dec_model = StyleModel::load(dir.path / "dec" / "model.safetensors");
  const auto dec_after = held_out(dec_opt, dec_model);
  for (const auto& [name, before] : dec_before) {
    CAPTURE(name);
    CHECK(dec_after.at(name) < 0.7 * before);
  }

  TrainOptions fo = tiny_run(dir.path / "fus", TrainStage::Fusion, 40);
  fo.init_model = (dir.path / "dec" / "model.safetensors").string();
  fo.batch = 4;
  fo.lr = 5e-3;
  const auto fus_before = held_out(fo, dec_model);
  train_style_model(fo);
  const auto fus_after = held_out(fo, StyleModel::load(dir.path / "fus" / "model.safetensors"));
  INFO("style ", fus_before.at("style"), " -> ", fus_after.at("style"), ", content ", fus_before.at("content"), " -> ",
       fus_after.at("content"));
  // W trades a little content for style (it starts as the identity, content loss near its
  // minimum), so the objective and its style term must fall; the content term may rise.
  CHECK(fus_after.at("style") < 0.9 * fus_before.at("style"));
  CHECK(fus_after.at("loss") < 0.9 * fus_before.at("loss"));

  // Resume: 7 steps, then continue to 12, against 12 in one go (checkpoint every 3: the resumed
  // run restarts from step 6 and redoes step 7).
  TrainOptions full = tiny_run(dir.path / "full", TrainStage::Decoder, 12);
  const TrainReport straight = train_style_model(full);
  TrainOptions part = tiny_run(dir.path / "part", TrainStage::Decoder, 12);
  request_training_stop();  // not yet running: the flag is reset when a run starts
  int calls = 0;
  const TrainReport first = train_style_model(part, [&](int64_t step, int64_t, const auto&) {
    if (++calls == 7) request_training_stop();
  });
  CHECK(first.interrupted);
  CHECK(first.last_step == 7);
  CHECK(load_checkpoint(dir.path / "part" / "checkpoint.safetensors").step == 7);  // saved on stop
  TrainOptions again;
  again.run_dir = part.run_dir;
  again.resume = true;
  again.max_images = part.max_images;
  again.checkpoint_every = part.checkpoint_every;
  again.sample_every = 0;
  const TrainReport rest = train_style_model(again);
  CHECK(rest.first_step == 8);
  CHECK(rest.last_step == 12);
  const std::vector<double>& all = straight.losses.at("loss");
  CHECK(rest.losses.at("loss") == std::vector<double>(all.begin() + 7, all.end()));
  const StyleModel a = StyleModel::load(dir.path / "full" / "model.safetensors");
  const StyleModel b = StyleModel::load(dir.path / "part" / "model.safetensors");
  for (const auto& [k, v] : a.state_dict()) CHECK(max_abs_diff(v, b.state_dict().at(k)) == 0.0);
}

TEST_CASE("training: a decoder stage on a finished model keeps its W; the Laplacian term is logged") {
  TempDir dir("sharpen");
  // The largest difference between the W (fusion.*) of two models.
  auto w_diff = [](const StyleModel& a, const StyleModel& b) {
    double d = 0;
    const TensorDict bs = b.state_dict();
    for (const auto& [k, v] : a.state_dict())
      if (k.rfind("fusion.", 0) == 0) d = std::max(d, max_abs_diff(v, bs.at(k)));
    return d;
  };
  auto load = [&](const char* run) { return StyleModel::load(dir.path / run / "model.safetensors"); };
  // A finished model (W trained), then a decoder stage on it with the Laplacian term.
  train_style_model(tiny_run(dir.path / "fus", TrainStage::Fusion, 3));
  TrainOptions sharpen = tiny_run(dir.path / "dec", TrainStage::Decoder, 3);
  sharpen.init_model = (dir.path / "fus" / "model.safetensors").string();
  sharpen.loss.weights.laplacian = 1.0;
  sharpen.loss.laplacian_pool = 1;
  const TrainReport r = train_style_model(sharpen);
  REQUIRE(r.losses.count("laplacian"));
  for (double v : r.losses.at("laplacian")) CHECK((std::isfinite(v) && v > 0));
  const StyleModel trained = load("fus"), sharp = load("dec");
  CHECK(trained.metadata().at("w_trained") == "1");
  CHECK(sharp.metadata().at("w_trained") == "1");
  CHECK(w_diff(sharp, trained) == 0.0);
  CHECK(max_abs_diff(sharp.decoder->parameters()[0], trained.decoder->parameters()[0]) > 0.0);

  // A fusion stage from it starts from that W (a rate of 1e-20 leaves W where it starts) ...
  TrainOptions fus2 = tiny_run(dir.path / "fus2", TrainStage::Fusion, 1);
  fus2.init_model = (dir.path / "dec" / "model.safetensors").string();
  fus2.lr = 1e-20;
  train_style_model(fus2);
  CHECK(w_diff(load("fus2"), trained) < 1e-12);
  // ... while after a decoder stage of a fresh model (its W drawn with seed 6) W starts afresh
  // (drawn with the fusion stage's seed 5).
  TrainOptions fresh = tiny_run(dir.path / "fresh", TrainStage::Decoder, 1);
  fresh.seed = 6;
  train_style_model(fresh);
  CHECK(load("fresh").metadata().at("w_trained") == "0");
  TrainOptions fus3 = fus2;
  fus3.run_dir = (dir.path / "fus3").string();
  fus3.init_model = (dir.path / "fresh" / "model.safetensors").string();
  train_style_model(fus3);
  TrainOptions seed5 = tiny_run(dir.path / "unused", TrainStage::Fusion, 1);
  Generator init(seed5.seed, 11);
  const StyleModel afresh(seed5.model, standin_encoder().identity().str(), &init);
  CHECK(w_diff(load("fus3"), afresh) < 1e-12);
  CHECK(w_diff(load("fus3"), load("fresh")) > 1e-3);
}

TEST_CASE("training: the decoder stage's statistics term, its weight in the sum, what it lowers, and resume") {
  TempDir dir("stats");
  const Tensor cx = held_out_batch("content", 98);
  TrainOptions o = tiny_run(dir.path / "a", TrainStage::Decoder, 30);
  o.perceptual_weight = 2;
  o.stats_weight = 3;
  Generator gen(21);
  const StyleModel m(o.model, standin_encoder().identity().str(), &gen);
  // The terms computed here from their definitions.
  double pix = 0, perc = 0, stats = 0;
  {
    NoGradGuard ng;
    const Tensor c = standin_encoder().features(cx, {"relu3_1"}).at("relu3_1");
    const Tensor y = m.decoder->forward(c);
    std::vector<std::string> taps = o.loss.style_taps;
    taps.push_back("relu3_1");
    const auto fy = standin_encoder().features(y, taps), fx = standin_encoder().features(cx, o.loss.style_taps);
    pix = mean(square(y - cx)).item();
    perc = mean(square(fy.at("relu3_1") - c)).item();
    for (const auto& t : o.loss.style_taps) stats += mean_std_loss(fy.at(t), fx.at(t)).item();
  }
  const auto terms = stage_loss(standin_encoder(), m, o, cx, Tensor()).terms;
  CHECK(terms.at("pixel") == doctest::Approx(pix).epsilon(1e-5));
  CHECK(terms.at("perceptual") == doctest::Approx(perc).epsilon(1e-5));
  CHECK(terms.at("stats") == doctest::Approx(stats).epsilon(1e-5));
  CHECK(terms.at("loss") == doctest::Approx(pix + 2 * perc + 3 * stats).epsilon(1e-5));

  // Its gradient reaches the decoder: a decoder trained without the term (30 steps), then Adam
  // steps on this batch with the term alone, brings the reconstruction's statistics closer.
  TrainOptions base = tiny_run(dir.path / "base", TrainStage::Decoder, 30);
  train_style_model(base);
  StyleModel dec = StyleModel::load(dir.path / "base" / "model.safetensors");
  TrainOptions only_stats = o;
  only_stats.pixel_weight = only_stats.perceptual_weight = 0;
  std::vector<Tensor> params = dec.decoder->parameters();
  for (Tensor& p : params) p.set_requires_grad(true);
  Adam adam(params, AdamOptions{.lr = 1e-3});
  std::vector<double> trace;
  for (int i = 0; i < 15; ++i) {
    adam.zero_grad();
    const StageLoss sl = stage_loss(standin_encoder(), dec, only_stats, cx, Tensor());
    backward(sl.total);
    adam.step();
    trace.push_back(sl.terms.at("stats"));
  }
  INFO("stats ", trace.front(), " -> ", trace.back());
  CHECK(trace.back() < 0.8 * trace.front());

  // Resume takes the weight from the checkpoint: the resumed steps still log the term.
  TrainOptions part = tiny_run(dir.path / "c", TrainStage::Decoder, 6);
  part.stats_weight = 3;
  int calls = 0;
  train_style_model(part, [&](int64_t, int64_t, const auto&) {
    if (++calls == 4) request_training_stop();
  });
  TrainOptions again;
  again.run_dir = part.run_dir;
  again.resume = true;
  again.max_images = part.max_images;
  again.sample_every = 0;
  const TrainReport rest = train_style_model(again);
  CHECK(rest.first_step == 5);
  REQUIRE(rest.losses.count("stats"));
  CHECK(rest.losses.at("stats").size() == 2);
}

TEST_CASE("training: W started at WCT (--fusion-start wct) is WCT at step 0 and goes below WCT's loss held out") {
  TempDir dir("wct_start");
  const Tensor cx = held_out_batch("content", 98), sx = held_out_batch("style", 98, 1);
  train_style_model(tiny_run(dir.path / "dec", TrainStage::Decoder, 30));
  const fs::path decoder_model = dir.path / "dec" / "model.safetensors";

  TrainOptions fo = tiny_run(dir.path / "fus", TrainStage::Fusion, 30);
  fo.init_model = decoder_model.string();
  fo.batch = 4;
  fo.lr = 5e-3;
  fo.model.fusion_start = FusionStart::WCT;
  fo.restart_fusion = true;
  // WCT's held-out loss: the decoder stage's model with a W started at WCT and not trained.
  StyleModel at_wct = StyleModel::load(decoder_model);
  StyleModelConfig start = at_wct.config();
  start.fusion_start = FusionStart::WCT;
  at_wct.take_fusion(StyleModel(start, at_wct.encoder_identity()));
  const auto wct_terms = stage_loss(standin_encoder(), at_wct, fo, cx, sx).terms;

  train_style_model(fo);
  const StyleModel trained = StyleModel::load(dir.path / "fus" / "model.safetensors");
  CHECK(trained.config().fusion_start == FusionStart::WCT);
  CHECK(trained.metadata().at("w_trained") == "1");
  const auto after = stage_loss(standin_encoder(), trained, fo, cx, sx).terms;
  INFO("held-out loss: WCT ", wct_terms.at("loss"), " -> ", after.at("loss"), "; style ", wct_terms.at("style"), " -> ",
       after.at("style"), ", content ", wct_terms.at("content"), " -> ", after.at("content"));
  CHECK(after.at("loss") < 0.98 * wct_terms.at("loss"));
}
