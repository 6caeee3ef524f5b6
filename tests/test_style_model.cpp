// Style model files (exact round trip, F16, refusing another encoder or a non-model) and
// collection models (a built-in style averaged over artworks, saved with the model).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "stylenet/stylize.h"
#include "tests/style_fixtures.h"
#include "tests/temp_dir.h"
#include "tests/tensor_compare.h"
#include "weights/atomic_file.h"
#include "weights/checkpoint.h"

using namespace sn;
using namespace sn::test;
namespace fs = std::filesystem;
using sn::test::max_abs_diff;

TEST_CASE("style model: saves and loads exactly, F16 within half precision, refuses another encoder") {
  TempDir dir("model");
  Generator gen(3);
  StyleModel m({"relu3_1", 0.125, 8}, standin_encoder().identity().str(), &gen);
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
  a.check_encoder(standin_encoder());
  const Vgg16 other = Vgg16::standin(VggParts::Features, 7);
  CHECK_THROWS_WITH_AS(a.check_encoder(other), doctest::Contains("trained with encoder"), Error);
  // Not a model: a checkpoint, a truncated file.
  save_checkpoint(dir.path / "ck.safetensors", Checkpoint{});
  CHECK_THROWS_WITH_AS(StyleModel::load(dir.path / "ck.safetensors"), doctest::Contains("not a StyleNet model"), Error);
  const std::string bytes = read_file(dir.path / "a.safetensors");
  write_file_atomic(dir.path / "t.safetensors", std::string_view(bytes).substr(0, bytes.size() / 2));
  CHECK_THROWS_AS(StyleModel::load(dir.path / "t.safetensors"), Error);
}

TEST_CASE("collection model: its built-in style is the average of the artworks', saved with the model") {
  TempDir dir("collection");
  Generator gen(8);
  StyleModel m({"relu3_1", 0.125, 8}, standin_encoder().identity().str(), &gen);
  m.fusion->eval();
  const auto styles = sample_images("style_");
  REQUIRE(styles.size() >= 2);
  const Tensor content = resize_image(load_image(sample_path("content_")), 48, 56);
  const Tensor a = resize_image(load_image(styles[0]), 40, 40), b = resize_image(load_image(styles[1]), 48, 32);
  CHECK_THROWS_AS(stylize(standin_encoder(), m, content, {}), Error);  // no style, no collection
  // One artwork: the built-in style paints exactly as that artwork given as the style.
  m.collection = collection_style(standin_encoder(), m, {a}, "one");
  CHECK(max_abs_diff(stylize(standin_encoder(), m, content, {}), stylize(standin_encoder(), m, content, {{a, 1.0}})) < 1e-5);
  // Two: T_s and the mean are the averages of each artwork's.
  m.collection = collection_style(standin_encoder(), m, {a, b}, "two");
  const CollectionStyle ca = collection_style(standin_encoder(), m, {a}, "a"), cb = collection_style(standin_encoder(), m, {b}, "b");
  CHECK(max_abs_diff(m.collection->matrix, (ca.matrix + cb.matrix) * 0.5) < 1e-6);
  CHECK(max_abs_diff(m.collection->mean, (ca.mean + cb.mean) * 0.5) < 1e-6);
  // Saved and loaded with the model, name included; tiling keeps it seamless.
  m.save(dir.path / "two.safetensors");
  const StyleModel back = StyleModel::load(dir.path / "two.safetensors");
  REQUIRE(back.collection);
  CHECK(back.collection->name == "two");
  StylizeOptions tiled;
  tiled.tile = 24;
  CHECK(max_abs_diff(stylize(standin_encoder(), back, content, {}), stylize(standin_encoder(), m, content, {}, tiled)) < 2e-4);
}
