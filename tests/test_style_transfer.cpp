// The style-transfer product: model files, tiled stylization, staged training with checkpoints
// and exact resume, and what survives a kill in the middle of a checkpoint write.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "optim/optim.h"
#include "vision/data.h"
#include "vision/image.h"
#include "vision/loader.h"
#include "stylenet/optimize.h"
#include "stylenet/stylize.h"
#include "training/train.h"
#include "tests/run_process.h"
#include "tests/tensor_compare.h"
#include "tests/temp_dir.h"
#include "weights/checkpoint.h"

using namespace sn;
using sn::test::max_abs_diff;
using sn::test::TempDir;
namespace fs = std::filesystem;

namespace {

const Vgg16& encoder() {
  static const Vgg16 vgg = Vgg16::standin();
  return vgg;
}

std::string sample(const std::string& prefix) {
  const auto files = sample_images(prefix);
  REQUIRE_FALSE(files.empty());
  return files.front();
}

TrainOptions tiny_run(const fs::path& dir, TrainStage stage, int64_t steps) {
  TrainOptions o;
  o.run_dir = dir.string();
  o.stage = stage;
  o.steps = steps;
  o.batch = 2;
  o.crop = 32;
  o.max_images = 6;
  o.warmup = 2;
  o.lr = 2e-3;
  o.checkpoint_every = 3;
  o.sample_every = 0;
  o.model.decoder_width = 0.125;
  o.model.k = 8;
  o.seed = 5;
  return o;
}

// A fixed batch of 32 px crops from a shared data folder, at a step number training never
// reaches: held out from every training run here.
Tensor held_out_batch(const std::string& folder, uint64_t seed, uint64_t stream = 0) {
  LoaderOptions lo;
  lo.crop = 32;
  lo.batch = 4;
  lo.seed = seed;
  lo.stream = stream;
  return ImageLoader(list_images(data_root() + "/data/" + folder), lo).make_batch(1000000);
}

}  // namespace

TEST_CASE("style model: saves and loads exactly, F16 within half precision, refuses another encoder") {
  TempDir dir("model");
  Generator gen(3);
  StyleModel m({"relu3_1", 0.125, 8}, encoder().identity().str(), &gen);
  m.save(dir.path / "a.safetensors");
  m.save(dir.path / "h.safetensors", StoredDType::F16);
  const StyleModel a = StyleModel::load(dir.path / "a.safetensors");
  const StyleModel h = StyleModel::load(dir.path / "h.safetensors");
  CHECK(fs::file_size(dir.path / "h.safetensors") < fs::file_size(dir.path / "a.safetensors") * 0.6);
  for (const auto& [k, v] : m.state_dict()) {
    CAPTURE(k);
    CHECK(max_abs_diff(a.state_dict().at(k), v) == 0.0);
    CHECK(max_abs_diff(h.state_dict().at(k), v) <= 1e-3 * (1 + std::abs(v.to_vector<float>()[0])) + 1e-3);
  }
  CHECK(a.config().tap == "relu3_1");
  CHECK(a.config().k == 8);
  a.check_encoder(encoder());
  const Vgg16 other = Vgg16::standin(VggParts::Features, 7);
  CHECK_THROWS_WITH_AS(a.check_encoder(other), doctest::Contains("trained with encoder"), Error);
  // Not a model: a checkpoint, a truncated file.
  save_checkpoint(dir.path / "ck.safetensors", Checkpoint{});
  CHECK_THROWS_WITH_AS(StyleModel::load(dir.path / "ck.safetensors"), doctest::Contains("not a StyleNet model"), Error);
  const std::string bytes = read_file(dir.path / "a.safetensors");
  write_file_atomic(dir.path / "t.safetensors", std::string_view(bytes).substr(0, bytes.size() / 2));
  CHECK_THROWS_AS(StyleModel::load(dir.path / "t.safetensors"), Error);
}

TEST_CASE("stylize: tiles give the whole-image result (global statistics, no seams), for every method") {
  Generator gen(4);
  StyleModel m({"relu3_1", 0.125, 8}, encoder().identity().str(), &gen);
  const Tensor content = resize_image(load_image(sample("content_")), 88, 100);  // not tile multiples
  const Tensor style = resize_image(load_image(sample("style_")), 64, 64);
  for (FusionMethod method : {FusionMethod::Learned, FusionMethod::AdaIN, FusionMethod::WCT}) {
    CAPTURE(fusion_method_name(method));
    StylizeOptions whole;
    whole.method = method;
    whole.tile = 0;
    StylizeOptions tiled = whole;
    tiled.tile = 24;  // 4 x 5 tiles, each with a 32-pixel margin
    const Tensor a = stylize(encoder(), m, content, {{style, 1.0}}, whole);
    CHECK(a.shape() == content.shape());
    // Every tile's features kept between passes (the default budget), none (re-encoded per pass),
    // and some: the same result.
    for (int64_t cache : {tiled.feature_cache_bytes, int64_t{0}, int64_t{600} << 10}) {
      CAPTURE(cache);
      tiled.feature_cache_bytes = cache;
      CHECK(max_abs_diff(a, stylize(encoder(), m, content, {{style, 1.0}}, tiled)) < 2e-4);
    }
  }
}

TEST_CASE("stylize: untiled, it is the decoder applied to the training code's fusion, for every method") {
  // One implementation per fusion: what `stylize` paints is decode(fuse(C, S)) with the fusion
  // that training differentiates through (LearnedFusion::fuse) and the plain adain() / wct().
  Generator gen(5);
  StyleModel m({"relu3_1", 0.125, 8}, encoder().identity().str(), &gen);
  const Tensor content = resize_image(load_image(sample("content_")), 64, 72);  // multiples of 8: no padding
  const Tensor style = resize_image(load_image(sample("style_")), 48, 56);
  NoGradGuard ng;
  const Tensor C = encoder().features(content, {"relu3_1"}).at("relu3_1");
  const Tensor S = encoder().features(style, {"relu3_1"}).at("relu3_1");
  const std::vector<std::pair<FusionMethod, Tensor>> fused = {
      {FusionMethod::Learned, m.fusion->fuse(C, S)}, {FusionMethod::AdaIN, adain(C, S)}, {FusionMethod::WCT, wct(C, S)}};
  for (const auto& [method, t] : fused) {
    CAPTURE(fusion_method_name(method));
    StylizeOptions o;
    o.method = method;
    o.tile = 0;
    o.border = 0;
    const Tensor direct = clamp(m.decoder->forward(t), 0.0, 1.0);
    const Tensor painted = stylize(encoder(), m, content, {{style, 1.0}}, o);
    CHECK(max_abs_diff(painted, direct) <= 1e-5 * max(abs(direct)).item());
  }
}

TEST_CASE("stylize: alpha 0 is the decoder's reconstruction, styles blend by weight, colour preservation") {
  Generator gen(6);
  StyleModel m({"relu3_1", 0.125, 8}, encoder().identity().str(), &gen);
  const Tensor content = resize_image(load_image(sample("content_")), 48, 40);
  const Tensor style = resize_image(load_image(sample("style_")), 40, 40);
  StylizeOptions o;
  o.method = FusionMethod::AdaIN;
  o.alpha = 0.0;
  o.border = 0;  // exactly what the decoder makes of the photo's own features
  const Tensor rec = stylize(encoder(), m, content, {{style, 1.0}}, o);
  Tensor direct;
  {
    NoGradGuard ng;
    direct = clamp(m.decoder->forward(encoder().features(content, {"relu3_1"}).at("relu3_1")), 0.0, 1.0);
  }
  CHECK(max_abs_diff(rec, direct) < 1e-5);
  // Two copies of one style at any weights = that style alone.
  o.alpha = 1.0;
  const Tensor one = stylize(encoder(), m, content, {{style, 1.0}}, o);
  const Tensor two = stylize(encoder(), m, content, {{style, 0.3}, {style, 0.9}}, o);
  CHECK(max_abs_diff(one, two) < 1e-5);
  // Colour preservation: the result's luma is the stylized image's, its chroma the content's.
  Generator g(8);
  const Tensor c = Tensor::rand({1, 3, 5, 6}, g, 0.3, 0.7);  // mid-range: no clamping
  const Tensor st = Tensor::rand({1, 3, 5, 6}, g, 0.3, 0.7);
  const Tensor r = transfer_luminance(st, c);
  auto yuv = [](const Tensor& x) {
    const auto v = x.to_vector<float>();
    const size_t n = v.size() / 3;
    std::vector<std::array<double, 3>> out(n);
    for (size_t i = 0; i < n; ++i) {
      const double y = 0.299 * v[i] + 0.587 * v[n + i] + 0.114 * v[2 * n + i];
      out[i] = {y, v[2 * n + i] - y, v[i] - y};
    }
    return out;
  };
  const auto yr = yuv(r), ys = yuv(st), yc = yuv(c);
  for (size_t i = 0; i < yr.size(); ++i) {
    CHECK(yr[i][0] == doctest::Approx(ys[i][0]).epsilon(1e-5));
    CHECK(yr[i][1] == doctest::Approx(yc[i][1]).epsilon(1e-5));
    CHECK(yr[i][2] == doctest::Approx(yc[i][2]).epsilon(1e-5));
  }
  o.preserve_color = true;
  const Tensor pc = stylize(encoder(), m, content, {{style, 1.0}}, o);
  CHECK(pc.shape() == content.shape());
  CHECK_THROWS_AS(stylize(encoder(), m, content, {}, o), Error);
  o.alpha = 1.5;
  CHECK_THROWS_AS(stylize(encoder(), m, content, {{style, 1.0}}, o), Error);
}

TEST_CASE("training: decoder then fusion stages lower their losses; resume is bit-identical") {
  TempDir dir("train");
  // Losses on fixed held-out batches, before and after: per-step training losses are too noisy to
  // compare (every batch has other styles).
  const Tensor cx = held_out_batch("content", 99), sx = held_out_batch("style", 99, 1);
  auto held_out = [&](const TrainOptions& o, const StyleModel& m) { return stage_loss(encoder(), m, o, cx, sx).terms; };

  const TrainOptions dec_opt = tiny_run(dir.path / "dec", TrainStage::Decoder, 30);
  Generator init(dec_opt.seed, 11);  // what the trainer draws a fresh model from
  const auto dec_before = held_out(dec_opt, StyleModel(dec_opt.model, encoder().identity().str(), &init));
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
  const StyleModel afresh(seed5.model, encoder().identity().str(), &init);
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
  const StyleModel m(o.model, encoder().identity().str(), &gen);
  // The terms computed here from their definitions.
  double pix = 0, perc = 0, stats = 0;
  {
    NoGradGuard ng;
    const Tensor c = encoder().features(cx, {"relu3_1"}).at("relu3_1");
    const Tensor y = m.decoder->forward(c);
    std::vector<std::string> taps = o.loss.style_taps;
    taps.push_back("relu3_1");
    const auto fy = encoder().features(y, taps), fx = encoder().features(cx, o.loss.style_taps);
    pix = mean(square(y - cx)).item();
    perc = mean(square(fy.at("relu3_1") - c)).item();
    for (const auto& t : o.loss.style_taps) stats += mean_std_loss(fy.at(t), fx.at(t)).item();
  }
  const auto terms = stage_loss(encoder(), m, o, cx, Tensor()).terms;
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
    const StageLoss sl = stage_loss(encoder(), dec, only_stats, cx, Tensor());
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

TEST_CASE("collection model: its built-in style is the average of the artworks', saved with the model") {
  TempDir dir("collection");
  Generator gen(8);
  StyleModel m({"relu3_1", 0.125, 8}, encoder().identity().str(), &gen);
  m.fusion->eval();
  const auto styles = sample_images("style_");
  REQUIRE(styles.size() >= 2);
  const Tensor content = resize_image(load_image(sample("content_")), 48, 56);
  const Tensor a = resize_image(load_image(styles[0]), 40, 40), b = resize_image(load_image(styles[1]), 48, 32);
  CHECK_THROWS_AS(stylize(encoder(), m, content, {}), Error);  // no style, no collection
  // One artwork: the built-in style paints exactly as that artwork given as the style.
  m.collection = collection_style(encoder(), m, {a}, "one");
  CHECK(max_abs_diff(stylize(encoder(), m, content, {}), stylize(encoder(), m, content, {{a, 1.0}})) < 1e-5);
  // Two: T_s and the mean are the averages of each artwork's.
  m.collection = collection_style(encoder(), m, {a, b}, "two");
  const CollectionStyle ca = collection_style(encoder(), m, {a}, "a"), cb = collection_style(encoder(), m, {b}, "b");
  CHECK(max_abs_diff(m.collection->matrix, (ca.matrix + cb.matrix) * 0.5) < 1e-6);
  CHECK(max_abs_diff(m.collection->mean, (ca.mean + cb.mean) * 0.5) < 1e-6);
  // Saved and loaded with the model, name included; tiling keeps it seamless.
  m.save(dir.path / "two.safetensors");
  const StyleModel back = StyleModel::load(dir.path / "two.safetensors");
  REQUIRE(back.collection);
  CHECK(back.collection->name == "two");
  StylizeOptions tiled;
  tiled.tile = 24;
  CHECK(max_abs_diff(stylize(encoder(), back, content, {}), stylize(encoder(), m, content, {}, tiled)) < 2e-4);
}

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

TEST_CASE("training: SIGKILL at any moment leaves the last checkpoint loadable") {
  TempDir dir("kill");
  const std::string run = (dir.path / "run").string();
  // Checkpoint every step (steps of a few milliseconds, so writes follow each other closely),
  // killed at a spread of moments after the first checkpoint appeared: wherever the kill lands
  // (before, during or after a write), the checkpoint on disk is complete.
  const fs::path ck = fs::path(run) / "checkpoint.safetensors";
  int loaded = 0;
  const std::string bin = sn::test::cli_binary();
  for (int delay_ms : {0, 40, 110, 230}) {
    fs::remove_all(run);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::execl(bin.c_str(), bin.c_str(), "train", "--run", run.c_str(), "--steps", "100000", "--batch", "1",
              "--crop", "32", "--max-images", "3", "--decoder-width", "0.125", "--checkpoint-every", "1",
              "--sample-every", "0", "--quiet", "--threads", "1", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!fs::exists(ck) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status));
    REQUIRE(fs::exists(ck));
    CHECK_NOTHROW(load_checkpoint(ck));
    ++loaded;
  }
  CHECK(loaded == 4);
}

TEST_CASE("optimisation mode lowers the style loss of the image it paints") {
  const Tensor content = resize_image(load_image(sample("content_")), 40, 40);
  const Tensor style = resize_image(load_image(sample("style_")), 40, 40);
  for (ImageOptimizer which : {ImageOptimizer::LBFGS, ImageOptimizer::Adam}) {
    OptimizeOptions o;
    o.optimizer = which;
    o.steps = 15;
    std::vector<double> losses;
    const Tensor out = optimize_image(encoder(), content, {{style, 1.0}}, o, [&](int64_t, double l) { losses.push_back(l); });
    CHECK(out.shape() == content.shape());
    CHECK(losses.back() < 0.7 * losses.front());
  }
}
