// The weight commands as a user runs them: `stylenet convert`, `features`, `classify` and
// `fetch-weights`, through the built binary (tests/run_process.h). Checked:
// exit status, printed summary, output contents against the in-process API, and on bad input one
// clear error line, a non-zero status and no output file (not even a temporary).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "autograd/grad_mode.h"
#include "vision/image.h"
#include "vision/vgg16.h"
#include "weights/weight_file.h"
#include "tests/temp_dir.h"
#include "tests/run_process.h"
#include "tests/vgg/vgg_test_util.h"
#include "weights/npy.h"
#include "weights/sha256.h"
#include "weights/zip_reader.h"

using namespace sn;
using namespace sn::test;
namespace fs = std::filesystem;

namespace {

fs::path data_file(const std::string& rel) {
  const char* root = std::getenv("STYLENET_DATA");
  const fs::path p = fs::path(root ? root : "../shared") / "data" / rel;
  SN_CHECK(fs::exists(p), "missing shared data file ", p.string(), " (set STYLENET_DATA)");
  return p;
}

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n + (!s.empty() && s.back() != '\n');
}

// A failure as users should see it: `status`, exactly one line on stderr that names the command
// and contains `says`.
void check_fails(const ProcessResult& r, int status, const std::string& command, const std::string& says) {
  CAPTURE(r.err);
  CAPTURE(r.out);
  CHECK_FALSE(r.timed_out);
  CHECK(r.status == status);
  CHECK(lines(r.err) == 1);
  CHECK(r.err.rfind("stylenet " + command + ": ", 0) == 0);
  CHECK(r.err.find(says) != std::string::npos);
}

bool curl_on_path() { return std::system("command -v curl >/dev/null 2>&1") == 0; }

}  // namespace

TEST_CASE("cli convert: the legacy VGG16 file becomes safetensors with metadata and a summary") {
  const fs::path vgg = vgg_dir() / "vgg16_legacy.pth";
  TempDir tmp("cli_weights");
  const fs::path out = tmp.path / "vgg16.safetensors";
  const ProcessResult r = run_cli({"convert", vgg.string(), out.string()});
  CAPTURE(r.err);
  REQUIRE(r.status == 0);
  const std::string sha = sha256_file_hex(vgg);
  CHECK(r.out.find("format: PyTorch .pth (legacy format)") != std::string::npos);
  CHECK(r.out.find("sha256: " + sha) != std::string::npos);
  CHECK(r.out.find("architecture: vgg16\n") != std::string::npos);
  CHECK(r.out.find("32 tensors, 138,357,544 parameters, 553,430,176 bytes") != std::string::npos);
  CHECK(tmp.files() == std::vector<std::string>{"vgg16.safetensors"});
  std::printf("stylenet convert (528 MB legacy .pth -> safetensors): %.2f s, peak resident %.0f MB "
              "(test process at spawn: %.0f MB)\n", r.seconds, r.peak_rss_mb, r.parent_rss_mb);
  CHECK(r.peak_rss_mb < 553.4 + 150.0);  // one copy of the weights, plus the program

  const WeightFile st = read_weight_file(out);
  CHECK(st.format == "safetensors");
  CHECK(st.tensors.size() == 32);
  CHECK(st.metadata.at("architecture") == "vgg16");
  CHECK(st.metadata.at("parts") == "features,classifier");
  CHECK(st.metadata.at("source_sha256") == sha);
  CHECK(st.metadata.at("source_file") == "vgg16_legacy.pth");
  CHECK(st.metadata.count("preprocessing") == 1);
  const WeightFile pth = read_weight_file(vgg);
  for (const auto& [key, t] : pth.tensors) {
    CAPTURE(key);
    CHECK(std::memcmp(st.tensors.at(key).raw_data(), t.raw_data(), t.numel() * sizeof(float)) == 0);
  }
}

TEST_CASE("cli convert: zip and safetensors inputs; any state_dict converts") {
  TempDir tmp("cli_weights");
  const fs::path a = tmp.path / "a.safetensors", b = tmp.path / "b.safetensors";
  const ProcessResult r = run_cli({"convert", (vgg_dir() / "small_zip.pth").string(), a.string()});
  CAPTURE(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("format: PyTorch .pth (zip format)") != std::string::npos);
  CHECK(r.out.find("architecture: unknown") != std::string::npos);
  CHECK(r.out.find("7 tensors") != std::string::npos);
  const ProcessResult r2 = run_cli({"convert", a.string(), b.string()});
  REQUIRE(r2.status == 0);
  CHECK(r2.out.find("format: safetensors") != std::string::npos);
  const WeightFile back = read_weight_file(b);
  for (const char* key : {"base", "rows_cols", "half", "double", "scalar"})
    CHECK(back.tensors.at(key).to_vector<double>() == load_npy(vgg_dir() / "small" / (std::string(key) + ".npy")).to_vector<double>());
}

TEST_CASE("cli convert: bad input is one error line, status 1, and leaves OUT as it was") {
  const fs::path dir = vgg_dir();
  TempDir tmp("cli_weights");
  const fs::path truncated = tmp.path / "truncated.pth", text = tmp.path / "notes.txt";
  write_file_atomic(truncated, read_file(dir / "small_zip.pth").substr(0, 900));
  write_file_atomic(text, "just some text, not weights\n");
  const fs::path out = tmp.path / "out.safetensors";
  struct Bad {
    fs::path in;
    const char* says;
  };
  for (const Bad& bad : std::vector<Bad>{{dir / "traversal.pth", "points outside the archive"},
                                         {dir / "evil_system_legacy.pth", "refusing global 'posix.system'"},
                                         {dir / "evil_eval_zip.pth", "refusing global '__builtin__.eval'"},
                                         {truncated, "truncated.pth"},
                                         {text, "neither a PyTorch .pth nor a safetensors"},
                                         {tmp.path / "missing.pth", "cannot open"}}) {
    CAPTURE(bad.in);
    check_fails(run_cli({"convert", bad.in.string(), out.string()}), 1, "convert", bad.says);
    CHECK_FALSE(fs::exists(out));
  }
  // An existing OUT survives a failed conversion untouched; no temporary is left beside it.
  write_file_atomic(out, "old");
  check_fails(run_cli({"convert", (dir / "deflated.pth").string(), out.string()}), 1, "convert", "compressed");
  CHECK(read_file(out) == "old");
  CHECK(tmp.files().size() == 3);
  check_fails(run_cli({"convert", "only-one-argument"}), 2, "convert", "expects two arguments");
}

TEST_CASE("cli features: .npz and .npy outputs hold the same activations as the API") {
  const fs::path weights = vgg_dir() / "vgg16_legacy.pth";
  const fs::path image = data_file("content/adain_blonde_girl.jpg");
  std::map<std::string, Tensor> want;
  {
    NoGradGuard no_grad;
    want = Vgg16::from_file(weights).features(resize_short_side(load_image(image.string()), 64), {"relu1_2", "relu3_3"});
  }
  TempDir tmp("cli_weights");
  const std::vector<std::string> common = {"features", "--image", image.string(), "--size", "64", "--weights", weights.string()};
  auto args = [&](std::vector<std::string> more) {
    std::vector<std::string> a = common;
    a.insert(a.end(), more.begin(), more.end());
    return a;
  };

  const fs::path npz = tmp.path / "f.npz";
  const ProcessResult r = run_cli(args({"--layers", "relu1_2,relu3_3", "--out", npz.string()}));
  CAPTURE(r.err);
  REQUIRE(r.status == 0);
  std::printf("stylenet features (features-only load of the 528 MB .pth, 64 px image): %.2f s, peak resident %.0f MB "
              "(test process at spawn: %.0f MB)\n", r.seconds, r.peak_rss_mb, r.parent_rss_mb);
  CHECK(r.peak_rss_mb < 58.9 + 150.0);  // the classifier's 494.5 MB is never read
  CHECK(r.out.find("relu3_3") != std::string::npos);
  CHECK(r.out.find("encoder vgg16:sha256:") != std::string::npos);
  const std::string archive = read_file(npz);
  const ZipReader zip(archive, npz.string());
  REQUIRE(zip.entries().size() == 2);
  for (const char* layer : {"relu1_2", "relu3_3"}) {
    CAPTURE(layer);
    const Tensor got = decode_npy(zip.data(*zip.find(std::string(layer) + ".npy")));
    CHECK(got.dtype() == DType::Float32);
    CHECK(got.dim() == 4);
    CHECK(relative_error(got, want.at(layer)) <= 1e-6);
  }

  const ProcessResult one = run_cli(args({"--layers", "relu3_3", "--out", (tmp.path / "one.npy").string()}));
  REQUIRE(one.status == 0);
  CHECK(relative_error(load_npy(tmp.path / "one.npy"), want.at("relu3_3")) <= 1e-6);
  const ProcessResult two = run_cli(args({"--layers", "relu1_2,relu3_3", "--out", (tmp.path / "two.npy").string()}));
  REQUIRE(two.status == 0);
  CHECK(relative_error(load_npy(tmp.path / "two_relu1_2.npy"), want.at("relu1_2")) <= 1e-6);
  CHECK(relative_error(load_npy(tmp.path / "two_relu3_3.npy"), want.at("relu3_3")) <= 1e-6);
  CHECK(tmp.files().size() == 4);

  // Without weights, the stand-in runs and says so.
  const ProcessResult standin = run_cli({"features", "--image", image.string(), "--size", "32", "--layers", "relu1_1",
                                         "--out", (tmp.path / "s.npy").string()},
                                        {"STYLENET_WEIGHTS=standin"});
  CAPTURE(standin.err);
  CHECK(standin.status == 0);
  CHECK(standin.err.find("stand-in") != std::string::npos);
  CHECK(standin.out.find("encoder vgg16:standin:seed=20140904") != std::string::npos);
}

TEST_CASE("cli features: bad input is one error line, a non-zero status, and no output file") {
  const fs::path dir = vgg_dir();
  const std::string image = data_file("content/adain_blonde_girl.jpg").string();
  const std::string weights = (dir / "vgg16_legacy.pth").string();
  TempDir tmp("cli_weights");
  const std::string out = (tmp.path / "f.npz").string();
  struct Bad {
    std::vector<std::string> args;
    int status;
    const char* says;
  };
  const std::vector<Bad> cases = {
      {{"--image", image, "--layers", "relu9_9", "--out", out, "--weights", weights}, 2, "unknown layer 'relu9_9'"},
      {{"--image", image, "--layers", "relu1_1,relu1_1", "--out", out, "--weights", weights}, 2, "twice"},
      {{"--image", image, "--layers", ",", "--out", out, "--weights", weights}, 2, "names no layer"},
      {{"--image", image, "--layers", "relu1_1", "--out", (tmp.path / "f.png").string()}, 2, "must end in .npz"},
      {{"--image", image, "--layers", "relu1_1", "--out", (tmp.path / "no/f.npy").string()}, 1, "does not exist"},
      {{"--image", (tmp.path / "missing.jpg").string(), "--layers", "relu1_1", "--out", out, "--weights", weights}, 1, "missing.jpg"},
      {{"--image", weights, "--layers", "relu1_1", "--out", out, "--weights", weights}, 1, "vgg16_legacy.pth"},
      {{"--image", image, "--layers", "relu1_1", "--out", out, "--weights", (dir / "traversal.pth").string()}, 1, "outside the archive"},
      {{"--image", image, "--layers", "relu1_1", "--out", out, "--weights", (dir / "small_zip.pth").string()}, 1, "not a torchvision VGG16"},
      {{"--image", image, "--layers", "relu1_1", "--out", out, "--weights", (tmp.path / "none.pth").string()}, 1, "none.pth"},
  };
  for (const Bad& c : cases) {
    std::vector<std::string> a = {"features"};
    a.insert(a.end(), c.args.begin(), c.args.end());
    CAPTURE(c.says);
    check_fails(run_cli(a), c.status, "features", c.says);
    CHECK(tmp.files().empty());
  }
  check_fails(run_cli({"features", "--image", image, "--layers", "relu1_1"}), 2, "features", "missing required option --out");
  CHECK(tmp.files().empty());
}

TEST_CASE("cli classify: prints the same top-5 as the API, or one error line") {
  const fs::path weights = vgg_dir() / "vgg16_zip.pth";
  const fs::path image = data_file("samples/content_tubingen.jpg");
  const ProcessResult r = run_cli({"classify", "--image", image.string(), "--weights", weights.string()});
  CAPTURE(r.err);
  REQUIRE(r.status == 0);
  CHECK(lines(r.out) == 5);
  Tensor logits;
  {
    NoGradGuard no_grad;
    logits = Vgg16::from_file(weights, VggParts::Full).classify(Vgg16::eval_crop(load_image(image.string())));
  }
  const std::vector<float> v = logits.to_vector<float>();
  std::vector<int64_t> order(v.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return v[a] > v[b]; });
  for (int rank = 1; rank <= 5; ++rank) {
    char prefix[32];
    std::snprintf(prefix, sizeof prefix, "%2d. %4lld ", rank, static_cast<long long>(order[rank - 1]));
    CAPTURE(prefix);
    CHECK(r.out.find(prefix) != std::string::npos);
  }

  const ProcessResult top2 = run_cli({"classify", "--image", image.string(), "--weights", weights.string(), "--top", "2"});
  CHECK(top2.status == 0);
  CHECK(lines(top2.out) == 2);
  check_fails(run_cli({"classify", "--image", image.string(), "--weights", (vgg_dir() / "small_legacy.pth").string()}), 1,
              "classify", "not a torchvision VGG16");
  check_fails(run_cli({"classify", "--image", "/nonexistent.jpg", "--weights", weights.string()}), 1, "classify",
              "/nonexistent.jpg");
  check_fails(run_cli({"classify", "--image", image.string(), "--top", "0"}), 2, "classify", "--top");
}

TEST_CASE("cli fetch-weights: offline it fails at once, says where to put a file, and installs nothing") {
  TempDir tmp("cli_weights");
  const fs::path out = tmp.path / "cache" / "vgg16.safetensors";
  if (!curl_on_path()) {
    check_fails(run_cli({"fetch-weights", "--out", out.string()}), 1, "fetch-weights", "curl is not installed");
    return;
  }
  // Nothing listens on port 1: the connection is refused at once, as with no network.
  const ProcessResult refused =
      run_cli({"fetch-weights", "--out", out.string(), "--url", "http://127.0.0.1:1/vgg16-397923af.pth"}, {}, 30.0);
  check_fails(refused, 1, "fetch-weights", "cannot connect");
  CHECK(refused.err.find("stylenet convert vgg16-397923af.pth " + out.string()) != std::string::npos);
  CHECK(refused.seconds < 15.0);
  CHECK_FALSE(fs::exists(out));
  CHECK(fs::is_empty(out.parent_path()));  // no partial download left

  // A file that is not the official one (here via file://, which needs no network) is refused
  // by its digest, and nothing is installed.
  const ProcessResult wrong = run_cli(
      {"fetch-weights", "--out", out.string(), "--url", "file://" + (vgg_dir() / "small_legacy.pth").string()}, {}, 30.0);
  check_fails(wrong, 1, "fetch-weights", "does not start with 397923af");
  CHECK_FALSE(fs::exists(out));
  CHECK(fs::is_empty(out.parent_path()));

  // Without curl: the same advice, at once.
  check_fails(run_cli({"fetch-weights", "--out", out.string()}, {"PATH=/nonexistent"}), 1, "fetch-weights",
              "curl is not installed");
}
