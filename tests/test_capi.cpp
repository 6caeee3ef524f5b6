// The C interface (capi/stylenet.h): a picture through it equals the C++ library's; every bad
// argument (null pointers, sizes of 0, strides, options out of range) is a status and a message,
// never a crash; corrupt and wrong files fail cleanly; handles are shared by threads; the last
// error is per thread. (The installed library and its examples: tests/install/check_install.sh.)
#include <doctest/doctest.h>

#include <cstring>
#include <thread>
#include <vector>

#include "capi/stylenet.h"
#include "stylenet/paint.h"
#include "tests/style_fixtures.h"
#include "tests/temp_dir.h"
#include "weights/atomic_file.h"

using namespace sn::test;
namespace fs = std::filesystem;

namespace {

struct Picture {  // an sn_image over its own buffer
  std::vector<uint8_t> bytes;
  sn_image image{};
  explicit Picture(const sn::Tensor& t, int32_t padding = 0) {
    image.width = static_cast<int32_t>(t.size(3));
    image.height = static_cast<int32_t>(t.size(2));
    image.stride = 3 * image.width + padding;
    bytes.assign(static_cast<size_t>(image.stride) * image.height, 0xAB);
    image.pixels = bytes.data();
    sn::to_rgb8(t, image.pixels, image.stride);
  }
};

struct Handles {
  sn_encoder* encoder = nullptr;
  sn_model* model = nullptr;
  explicit Handles(const std::string& model_path) {
    REQUIRE(sn_encoder_load(nullptr, &encoder) == SN_OK);
    REQUIRE(sn_model_load(model_path.c_str(), &model) == SN_OK);
  }
  ~Handles() {
    sn_model_free(model);
    sn_encoder_free(encoder);
  }
};

std::string small_model(const fs::path& dir, const std::string& encoder_identity) {
  sn::Generator gen(4);
  const std::string path = (dir / (std::to_string(encoder_identity.size()) + ".safetensors")).string();
  sn::StyleModel({"relu3_1", 0.125, 8}, encoder_identity, &gen).save(path);
  return path;
}

}  // namespace

TEST_CASE("C API: a picture through it is the C++ library's, into its buffer or the caller's") {
  TempDir dir("capi");
  ::setenv("STYLENET_WEIGHTS", "standin", 1);
  Handles h(small_model(dir.path, standin_encoder().identity().str()));
  CHECK(sn_encoder_is_standin(h.encoder) == 1);
  CHECK(sn_model_has_builtin_style(h.model) == 0);
  const Picture photo(sample_image("content_", 0, 40, 52), 5), style(sample_image("style_", 0, 36, 36));
  sn_options o;
  sn_options_init(&o);
  o.method = SN_ADAIN;
  o.alpha = 0.8;
  o.size = 32;
  sn_image out{};
  REQUIRE(sn_stylize(h.encoder, h.model, &photo.image, &style.image, &o, &out) == SN_OK);
  // The same through the C++ API, from the same 8-bit pixels.
  sn::PaintOptions p;
  p.method = sn::Method::AdaIN;
  p.stylize.alpha = 0.8;
  p.size = 32;
  const sn::StyleModel model = sn::StyleModel::load(small_model(dir.path, standin_encoder().identity().str()));
  const sn::Tensor photo_cpp = sn::from_rgb8(photo.image.pixels, 40, 52, photo.image.stride);
  const sn::Tensor want = sn::paint(standin_encoder(), &model, photo_cpp,
                                    sn::prepare_styles({{sn::from_rgb8(style.image.pixels, 36, 36, 108), 1.0}}, p, photo_cpp), p);
  Picture expected(want);
  REQUIRE(out.width == expected.image.width);
  REQUIRE(out.height == expected.image.height);
  CHECK(std::memcmp(out.pixels, expected.image.pixels, expected.bytes.size()) == 0);
  // Into the caller's buffer, of the size sn_output_size gives (with padded rows).
  int32_t w = 0, hh = 0;
  REQUIRE(sn_output_size(52, 40, &o, &w, &hh) == SN_OK);
  CHECK((w == out.width && hh == out.height));
  std::vector<uint8_t> mine(static_cast<size_t>(hh) * (3 * w + 7));
  sn_image into{mine.data(), w, hh, 3 * w + 7};
  REQUIRE(sn_stylize_into(h.encoder, h.model, &photo.image, &style.image, &o, &into) == SN_OK);
  for (int32_t y = 0; y < hh; ++y) CHECK(std::memcmp(into.pixels + y * into.stride, out.pixels + y * out.stride, 3 * w) == 0);
  sn_image_free(&out);
  CHECK(out.pixels == nullptr);
  sn_image_free(&out);      // twice is fine
  sn_image_free(nullptr);   // so is NULL
}

TEST_CASE("C API: per-level strengths reach the multi-level methods") {
  ::setenv("STYLENET_WEIGHTS", "standin", 1);
  Handles h(sn::default_model_path().string());
  const Picture photo(sample_image("content_", 1, 40, 48)), style(sample_image("style_", 1, 32, 32));
  sn_options o;
  sn_options_init(&o);
  CHECK(o.level_count == 0);
  o.size = 40;
  o.level_count = 2;
  o.level_alpha[0] = 0.25;
  o.level_alpha[1] = 0.75;
  sn_image out{};
  REQUIRE(sn_stylize(h.encoder, h.model, &photo.image, &style.image, &o, &out) == SN_OK);
  sn::PaintOptions p;
  p.size = 40;
  p.stylize.level_alpha = {0.25, 0.75};
  const sn::StyleModel model = sn::StyleModel::load(sn::default_model_path());
  const sn::Tensor photo_cpp = sn::from_rgb8(photo.image.pixels, 40, 48, photo.image.stride);
  const Picture want(sn::paint(standin_encoder(), &model, photo_cpp,
                               sn::prepare_styles({{sn::from_rgb8(style.image.pixels, 32, 32, 96), 1.0}}, p, photo_cpp), p));
  REQUIRE(out.width == want.image.width);
  REQUIRE(out.height == want.image.height);
  CHECK(std::memcmp(out.pixels, want.image.pixels, want.bytes.size()) == 0);
  // And the strengths matter: the default (every level at alpha 1) paints another picture.
  sn_options_init(&o);
  o.size = 40;
  sn_image full{};
  REQUIRE(sn_stylize(h.encoder, h.model, &photo.image, &style.image, &o, &full) == SN_OK);
  CHECK(std::memcmp(out.pixels, full.pixels, want.bytes.size()) != 0);
  sn_image_free(&out);
  sn_image_free(&full);
}

TEST_CASE("C API: bad arguments and bad files are a status and one message, never a crash") {
  TempDir dir("capi_bad");
  ::setenv("STYLENET_WEIGHTS", "standin", 1);
  Handles h(small_model(dir.path, standin_encoder().identity().str()));
  Picture photo(sample_image("content_", 0, 24, 24)), style(sample_image("style_", 0, 24, 24));
  sn_options o;
  sn_options_init(&o);
  sn_image out{};
  auto fails = [](sn_status got, sn_status want, const char* says) {
    CAPTURE(says);
    CAPTURE(sn_last_error());
    CHECK(got == want);
    CHECK(std::strstr(sn_last_error(), says) != nullptr);
  };
  fails(sn_image_load(nullptr, &out), SN_INVALID_ARGUMENT, "NULL");
  fails(sn_image_load((dir.path / "none.png").c_str(), &out), SN_FAILED, "no such file");
  fails(sn_stylize(nullptr, h.model, &photo.image, &style.image, &o, &out), SN_INVALID_ARGUMENT, "encoder is NULL");
  fails(sn_stylize(h.encoder, nullptr, &photo.image, &style.image, &o, &out), SN_INVALID_ARGUMENT, "model is NULL");
  fails(sn_stylize(h.encoder, h.model, nullptr, &style.image, &o, &out), SN_INVALID_ARGUMENT, "photo is NULL");
  fails(sn_stylize(h.encoder, h.model, &photo.image, &style.image, nullptr, &out), SN_INVALID_ARGUMENT, "options is NULL");
  fails(sn_stylize(h.encoder, h.model, &photo.image, &style.image, &o, nullptr), SN_INVALID_ARGUMENT, "out is NULL");
  fails(sn_stylize(h.encoder, h.model, &photo.image, nullptr, &o, &out), SN_INVALID_ARGUMENT, "no built-in style");
  sn_image empty = photo.image;
  empty.width = 0;
  fails(sn_stylize(h.encoder, h.model, &empty, &style.image, &o, &out), SN_INVALID_ARGUMENT, "size of 0");
  sn_image narrow = photo.image;
  narrow.stride = 3 * narrow.width - 1;
  fails(sn_stylize(h.encoder, h.model, &narrow, &style.image, &o, &out), SN_INVALID_ARGUMENT, "stride");
  sn_image no_pixels = photo.image;
  no_pixels.pixels = nullptr;
  fails(sn_stylize(h.encoder, h.model, &no_pixels, &style.image, &o, &out), SN_INVALID_ARGUMENT, "pixels is NULL");
  sn_options bad = o;
  bad.alpha = 2;
  fails(sn_stylize(h.encoder, h.model, &photo.image, &style.image, &bad, &out), SN_INVALID_ARGUMENT, "alpha");
  bad = o;
  bad.level_count = SN_MAX_LEVEL_ALPHA + 1;
  fails(sn_stylize(h.encoder, h.model, &photo.image, &style.image, &bad, &out), SN_INVALID_ARGUMENT, "level_count");
  bad.level_count = 1;  // a strength for a level this model does not have
  bad.level_alpha[0] = 0.5;
  fails(sn_stylize(h.encoder, h.model, &photo.image, &style.image, &bad, &out), SN_FAILED, "level");
  bad = o;
  bad.method = static_cast<sn_method>(9);
  fails(sn_stylize(h.encoder, h.model, &photo.image, &style.image, &bad, &out), SN_INVALID_ARGUMENT, "method");
  sn_image tiny = photo.image;  // 2 x 2: too small for the encoder
  tiny.width = tiny.height = 2;
  fails(sn_stylize(h.encoder, h.model, &tiny, &style.image, &o, &out), SN_FAILED, "too small");
  sn_image wrong_size{photo.bytes.data(), 5, 5, 15};
  fails(sn_stylize_into(h.encoder, h.model, &photo.image, &style.image, &o, &wrong_size), SN_INVALID_ARGUMENT,
        "sn_output_size");
  fails(sn_set_threads(0), SN_INVALID_ARGUMENT, "threads");
  CHECK(out.pixels == nullptr);  // nothing was handed out by a failed call

  // Files: corrupt, truncated, and a model for another encoder.
  sn_model* m = nullptr;
  sn::write_file_atomic(dir.path / "junk.safetensors", std::string("not a model at all"));
  fails(sn_model_load((dir.path / "junk.safetensors").c_str(), &m), SN_FAILED, "junk.safetensors");
  CHECK(m == nullptr);
  const std::string good = sn::read_file(small_model(dir.path, standin_encoder().identity().str()));
  sn::write_file_atomic(dir.path / "cut.safetensors", good.substr(0, good.size() / 2));
  fails(sn_model_load((dir.path / "cut.safetensors").c_str(), &m), SN_FAILED, "cut.safetensors");
  fails(sn_model_load(nullptr, &m), SN_INVALID_ARGUMENT, "NULL");
  Handles other(small_model(dir.path, "vgg16:sha256:0000"));
  fails(sn_stylize(h.encoder, other.model, &photo.image, &style.image, &o, &out), SN_FAILED, "trained with encoder");
  sn_encoder* e = nullptr;
  fails(sn_encoder_load((dir.path / "missing.pth").c_str(), &e), SN_FAILED, "missing.pth");
  CHECK(e == nullptr);
}

TEST_CASE("C API: threads share handles; the last error is per thread; the version") {
  TempDir dir("capi_threads");
  ::setenv("STYLENET_WEIGHTS", "standin", 1);
  Handles h(small_model(dir.path, standin_encoder().identity().str()));
  const Picture photo(sample_image("content_", 1, 32, 32)), style(sample_image("style_", 1, 32, 32));
  sn_options o;
  sn_options_init(&o);
  std::vector<std::vector<uint8_t>> results(2);
  std::vector<std::string> errors(2);
  auto work = [&](int i) {
    sn_image out{};
    if (sn_stylize(h.encoder, h.model, &photo.image, &style.image, &o, &out) == SN_OK)
      results[i].assign(out.pixels, out.pixels + static_cast<size_t>(out.stride) * out.height);
    sn_image_free(&out);
    if (i == 1) sn_image_load(nullptr, &out);  // fails on this thread only
    errors[i] = sn_last_error();
  };
  std::thread a(work, 0), b(work, 1);
  a.join();
  b.join();
  CHECK(!results[0].empty());
  CHECK(results[0] == results[1]);
  CHECK(errors[0].empty());
  CHECK(errors[1].find("NULL") != std::string::npos);
  CHECK(std::string(sn_version()) == std::to_string(sn_version_major()) + "." + std::to_string(sn_version_minor()) +
                                         "." + std::to_string(sn_version_patch()));
}
