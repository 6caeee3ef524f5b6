// The `stylenet` command as a user meets it: help, versions, and bad usage. Every failure is one
// clear line on stderr with a non-zero status (2 for usage, 1 for a failure while running), and
// never a crash or a partial output file.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "vision/data.h"
#include "vision/image.h"
#include "stylenet/style_model.h"
#include "tensor/cuda/cuda.h"
#include "tests/run_process.h"
#include "tests/temp_dir.h"
#include "weights/atomic_file.h"

using namespace sn::test;
namespace fs = std::filesystem;

TEST_CASE("cli: help lists the commands; --version prints the version") {
  const ProcessResult help = run_cli({"help"});
  CHECK(help.status == 0);
  CHECK(help.out.find("demo") != std::string::npos);
  const ProcessResult none = run_cli({});
  CHECK(none.status == 2);  // no command is a usage error, but still shows the help
  CHECK(none.out.find("usage: stylenet") != std::string::npos);
  const ProcessResult v = run_cli({"--version"});
  CHECK(v.status == 0);
  CHECK(v.out.rfind("stylenet ", 0) == 0);
  CHECK(v.out.find("\ncuda") != std::string::npos);  // the GPUs --device can name, or why there are none
  const ProcessResult dh = run_cli({"demo", "--help"});
  CHECK(dh.status == 0);
  CHECK(dh.out.find("--steps") != std::string::npos);
}

TEST_CASE("cli: bad usage is one line naming the problem, status 2") {
  struct Bad {
    std::vector<std::string> args;
    const char* says;
  };
  const std::vector<Bad> cases = {
      {{"frobnicate"}, "unknown command 'frobnicate'"},
      {{"demo", "--stpes", "3"}, "--stpes"},
      {{"demo", "--steps"}, "--steps"},
      {{"demo", "--steps", "many"}, "--steps"},
      {{"demo", "--steps", "0"}, "--steps"},
      {{"demo", "--lr", "nan"}, "--lr"},
      {{"demo", "stray"}, "stray"},
      {{"demo", "--out", "no/such/folder/x.png"}, "does not exist"},
      {{"demo", "--out", "sheet.gif"}, ".png"},
  };
  for (const Bad& b : cases) {
    std::string joined;
    for (const auto& a : b.args) joined += a + " ";
    CAPTURE(joined);
    const ProcessResult r = run_cli(b.args);
    CAPTURE(r.err);
    CHECK(r.status == 2);
    CHECK(line_count(r.err) == 1);
    CHECK(r.err.find(b.says) != std::string::npos);
  }
}

TEST_CASE("cli: demo writes its sheet atomically and fails cleanly without data") {
  const TempDir tmp("cli_demo");
  const fs::path& dir = tmp.path;
  const fs::path out = dir / "sheet.png";
  const ProcessResult ok = run_cli({"demo", "--steps", "3", "--batch", "2", "--crop", "16", "--images", "4",
                                "--quiet", "--out", out.string()});
  CAPTURE(ok.err);
  CHECK(ok.status == 0);
  CHECK(fs::file_size(out) > 1000);
  CHECK(ok.out.find("wrote") != std::string::npos);

  // Data missing: one error line, status 1, the earlier sheet is kept and no temp file is left.
  const auto before = fs::last_write_time(out);
  const ProcessResult bad = run_cli({"demo", "--steps", "3", "--quiet", "--out", out.string()},
                                    {"STYLENET_DATA=" + (dir / "nowhere").string()});
  CAPTURE(bad.err);
  CHECK(bad.status == 1);
  CHECK(line_count(bad.err) == 1);
  CHECK(bad.err.find("nowhere") != std::string::npos);
  CHECK(fs::last_write_time(out) == before);
  CHECK(tmp.files() == std::vector<std::string>{"sheet.png"});
}

// ---------------------------------------------------------------- stylize, train, eval

namespace {

size_t files_in(const fs::path& dir) {
  std::error_code ec;
  return static_cast<size_t>(std::distance(fs::directory_iterator(dir, ec), fs::directory_iterator()));
}

std::string sample_file(const std::string& prefix) {
  const auto files = sn::sample_images(prefix);
  REQUIRE_FALSE(files.empty());
  return files.front();
}

}  // namespace

TEST_CASE("cli: stylize writes the image, a folder of images, and refuses bad input cleanly") {
  TempDir dir("cli_stylize");
  const std::string model = (dir.path / "m.safetensors").string();
  {
    sn::Generator gen(1);
    sn::StyleModel({"relu3_1", 0.125, 8}, sn::Vgg16::standin().identity().str(), &gen).save(model);
    sn::Generator gen2(2);
    sn::StyleModel({"relu3_1", 0.125, 8}, "vgg16:sha256:0000", &gen2).save(dir.path / "other.safetensors");
    sn::Generator gen3(3);  // a collection model: paints with no --style
    const sn::Vgg16 encoder = sn::Vgg16::standin();
    sn::StyleModel c({"relu3_1", 0.125, 8}, encoder.identity().str(), &gen3);
    c.collection = sn::collection_style(encoder, c, {sn::resize_image(sn::load_image(sample_file("style_")), 40, 40)}, "few");
    c.save(dir.path / "collection.safetensors");
  }
  const std::string content = sample_file("content_"), style = sample_file("style_");
  const std::string out = (dir.path / "out.png").string();
  const std::vector<std::string> base = {"stylize", "--model", model, "--size", "48", "--style-size", "48"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return run_cli(a);
  };
  const ProcessResult ok = with({"--content", content, "--style", style + "," + style, "--style-weights", "1,2",
                             "--out", out, "--alpha", "0.7", "--preserve-color"});
  CAPTURE(ok.err);
  REQUIRE(ok.status == 0);
  CHECK(fs::file_size(out) > 500);
  const sn::Tensor img = sn::load_image(out);
  CHECK(std::min(img.size(2), img.size(3)) == 48);

  // The default style size is twice the photo's short side, at least 128: here 128 (not 48).
  std::vector<std::string> by_size;
  for (const std::string size : {"auto", "128", "48"}) {
    const std::string png = (dir.path / ("style" + size + ".png")).string();
    std::vector<std::string> a = {"stylize", "--model", model, "--size", "48", "--content", content, "--style",
                                  style, "--out", png, "--style-cache", "off"};
    if (size != "auto") a.insert(a.end(), {"--style-size", size});
    REQUIRE(run_cli(a).status == 0);
    by_size.push_back(sn::read_file(png));
  }
  CHECK(by_size[0] == by_size[1]);
  CHECK(by_size[0] != by_size[2]);
  const ProcessResult bad_size =
      run_cli({"stylize", "--model", model, "--content", content, "--style", style, "--out", out, "--style-size", "big"});
  CHECK(bad_size.status != 0);
  CHECK(bad_size.err.find("--style-size expects auto or an integer") != std::string::npos);

  // The style cache: a style is encoded once and read back on the next run, the same picture; off
  // keeps nothing. (Without --style-cache it is under $XDG_CACHE_HOME: set to the folder here.)
  const fs::path cache = dir.path / "styles";
  std::vector<std::string> cached_png;
  for (const std::string run : {"first", "second"}) {
    const std::string png = (dir.path / (run + ".png")).string();
    const ProcessResult r = run_cli({"stylize", "--model", model, "--size", "48", "--style-size", "48", "--content",
                                     content, "--style", style, "--out", png},
                                    {"XDG_CACHE_HOME=" + dir.path.string()});
    CAPTURE(r.err);
    REQUIRE(r.status == 0);
    cached_png.push_back(sn::read_file(png));
  }
  CHECK(cached_png[0] == cached_png[1]);
  CHECK(files_in(dir.path / "stylenet" / "styles") == 1);
  const ProcessResult off = with({"--content", content, "--style", style, "--out", (dir.path / "off.png").string(),
                                  "--style-cache", "off"});
  CHECK(off.status == 0);
  CHECK(sn::read_file(dir.path / "off.png") == cached_png[0]);
  const ProcessResult own = with({"--content", content, "--style", style, "--out", (dir.path / "own.png").string(),
                                  "--style-cache", cache.string()});
  CHECK(own.status == 0);
  CHECK(files_in(cache) == 1);

  const ProcessResult builtin = run_cli({"stylize", "--model", (dir.path / "collection.safetensors").string(), "--size",
                                        "48", "--content", content, "--out", (dir.path / "builtin.png").string()});
  CAPTURE(builtin.err);
  CHECK(builtin.status == 0);
  CHECK(fs::exists(dir.path / "builtin.png"));
  // The shipped collection model, by name.
  const ProcessResult vangogh = run_cli({"stylize", "--model", "vangogh", "--size", "48", "--content", content, "--out",
                                        (dir.path / "vangogh.png").string()});
  CAPTURE(vangogh.err);
  CHECK(vangogh.status == 0);
  CHECK(fs::exists(dir.path / "vangogh.png"));

  fs::create_directories(dir.path / "in");
  fs::copy_file(content, dir.path / "in" / "a.jpg");
  fs::copy_file(content, dir.path / "in" / "b.jpg");
  const ProcessResult folder = with({"--content", (dir.path / "in").string(), "--style", style, "--method", "adain",
                                 "--out", (dir.path / "outdir").string(), "--format", "jpg"});
  CAPTURE(folder.err);
  CHECK(folder.status == 0);
  CHECK(fs::exists(dir.path / "outdir" / "a.jpg"));
  CHECK(fs::exists(dir.path / "outdir" / "b.jpg"));

  // A corrupt photo, a missing one, a model for another encoder: one line, status 1, no output.
  {
    std::ofstream f(dir.path / "bad.jpg", std::ios::binary);
    f << "\xff\xd8\xff\xe0 this is not really a jpeg";
  }
  struct Bad {
    std::vector<std::string> args;
    int status;
    const char* says;
  };
  const std::string out2 = (dir.path / "never.png").string();
  const std::vector<Bad> bad = {
      {{"--content", (dir.path / "bad.jpg").string(), "--style", style, "--out", out2}, 1, "bad.jpg"},
      {{"--content", (dir.path / "missing.jpg").string(), "--style", style, "--out", out2}, 1, "missing.jpg"},
      {{"--content", content, "--style", (dir.path / "nostyle.jpg").string(), "--out", out2}, 1, "nostyle.jpg"},
      {{"--content", content, "--style", style, "--out", out2, "--model", (dir.path / "other.safetensors").string()}, 1,
       "trained with encoder"},
      {{"--content", content, "--style", style, "--out", out2, "--model", (dir.path / "none.safetensors").string()}, 1,
       "does not exist"},
      {{"--content", content, "--style", style, "--out", out2, "--alpha", "2"}, 2, "--alpha"},
      {{"--content", content, "--style", style, "--out", out2, "--smooth", "-1"}, 2, "--smooth"},
      {{"--content", content, "--style", style, "--out", out2, "--method", "optimize", "--no-color-match"}, 2,
       "feed-forward methods"},
      {{"--content", content, "--style", style, "--out", out2, "--method", "magic"}, 2, "--method"},
      {{"--content", content, "--style", style, "--out", out2, "--style-weights", "1,2"}, 2, "--style-weights"},
      {{"--content", content, "--style", style}, 2, "--out"},
      {{"--content", content, "--out", out2}, 2, "has no built-in style"},
      {{"--content", content, "--out", out2, "--method", "adain"}, 2, "--style is required"},
      {{"--content", content, "--style", style, "--out", (dir.path / "x.gif").string()}, 2, ".png"},
      {{"--content", content, "--style", style, "--out", out2, "--laplacian-weight", "5"}, 2, "only to --method optimize"},
      {{"--content", content, "--style", style, "--out", out2, "--method", "optimize", "--laplacian-weight", "-1"}, 2,
       "--laplacian-weight"},
  };
  for (const Bad& b : bad) {
    const ProcessResult r = with(b.args);
    CAPTURE(b.says);
    CAPTURE(r.err);
    CHECK(r.status == b.status);
    CHECK(line_count(r.err) <= 2);  // the stand-in notice, then the error
    CHECK(r.err.find(b.says) != std::string::npos);
    CHECK_FALSE(fs::exists(out2));
  }
}

TEST_CASE("cli: a photo over the pixel budget or missing is refused from its header, before any model work") {
  TempDir dir("cli_budget");
  // A PNG whose header claims 60000 x 60000 (3.6 GP): no pixel data at all follows.
  auto be32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
  };
  const std::string huge = (dir.path / "huge.png").string();
  {
    std::ofstream f(huge, std::ios::binary);
    f << std::string("\x89PNG\r\n\x1a\n", 8) << be32(13) << "IHDR" << be32(60000) << be32(60000)
      << std::string("\x08\x02\x00\x00\x00", 5) << be32(0);
  }
  const std::string style = sample_file("style_"), out = (dir.path / "o.png").string();
  struct Case {
    std::vector<std::string> args, env;
    const char* says;
  };
  const std::vector<Case> cases = {
      {{"stylize", "--content", huge, "--style", style, "--out", out}, {}, "60000x60000 is larger than the limit of 64000000 pixels"},
      {{"stylize", "--content", style, "--style", huge, "--out", out}, {}, "is larger than the limit"},
      {{"stylize", "--content", style, "--style", style, "--out", out}, {"STYLENET_MAX_PIXELS=1000"}, "limit of 1000 pixels"},
      {{"stylize", "--content", style, "--style", style, "--out", out}, {"STYLENET_MAX_PIXELS=lots"}, "STYLENET_MAX_PIXELS='lots' is not"},
      {{"stylize", "--content", style, "--style", style, "--out", out}, {"STYLENET_THREADS=0"}, "STYLENET_THREADS='0' is not"},
      {{"stylize", "--content", style, "--style", style, "--out", out}, {"STYLENET_WEIGHT_CACHE_MB=-1"}, "STYLENET_WEIGHT_CACHE_MB='-1' is not"},
      {{"stylize", "--content", style, "--style", style, "--out", out}, {"STYLENET_CPU_CACHE_MB=x"}, "STYLENET_CPU_CACHE_MB='x' is not"},
      {{"stylize", "--content", (dir.path / "missing.jpg").string(), "--style", style, "--out", out}, {}, "missing.jpg"},
      {{"features", "--image", huge, "--layers", "relu1_1", "--out", (dir.path / "f.npy").string()}, {}, "is larger than the limit"},
      {{"classify", "--image", huge}, {}, "is larger than the limit"},
  };
  for (const Case& c : cases) {
    const ProcessResult r = run_cli(c.args, c.env);
    CAPTURE(r.err);
    CHECK(r.status == 1);
    CHECK(r.err.find(c.says) != std::string::npos);
    // One line: the error comes before the encoder is built (which announces the stand-in).
    CHECK(line_count(r.err) == 1);
    CHECK_FALSE(fs::exists(out));
  }
}

TEST_CASE("cli: train and eval refuse bad usage; resume needs a run") {
  TempDir dir("cli_train");
  const ProcessResult r1 = run_cli({"train", "--run", (dir.path / "empty").string(), "--resume"});
  CHECK(r1.status == 1);
  CHECK(r1.err.find("nothing to resume") != std::string::npos);
  const ProcessResult r2 = run_cli({"train", "--run", (dir.path / "x").string(), "--stage", "dreaming"});
  CHECK(r2.status == 2);
  CHECK(r2.err.find("--stage") != std::string::npos);
  const ProcessResult r3 = run_cli({"train"});
  CHECK(r3.status == 2);
  CHECK(r3.err.find("--run") != std::string::npos);
  const ProcessResult r3b = run_cli({"train", "--run", (dir.path / "s").string(), "--stage", "fusion", "--stats-weight", "1"});
  CHECK(r3b.status == 2);
  CHECK(r3b.err.find("only to --stage decoder") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.path / "s" / "checkpoint.safetensors"));
  const ProcessResult r4 = run_cli({"eval", "--methods", "learned,telepathy"});
  CHECK(r4.status == 2);
  CHECK(r4.err.find("telepathy") != std::string::npos);
  CHECK(r4.err.find("decoded-optimize") != std::string::npos);  // the message lists what is known
  const ProcessResult r5 = run_cli({"eval", "--refine-steps", "0"});
  CHECK(r5.status == 2);
  CHECK(r5.err.find("--refine-steps") != std::string::npos);
  // Adversarial options: the discriminator's settings need --adversarial, which needs a folder.
  const std::string run = (dir.path / "adv").string();
  const ProcessResult a1 = run_cli({"train", "--run", run, "--stage", "fusion", "--d-base", "8"});
  CHECK(a1.status == 2);
  CHECK(a1.err.find("--adversarial") != std::string::npos);
  const ProcessResult a2 = run_cli({"train", "--run", run, "--stage", "fusion", "--adversarial", (dir.path / "no").string()});
  CHECK(a2.status == 1);
  CHECK(a2.err.find("not a folder") != std::string::npos);
  const ProcessResult a3 = run_cli({"train", "--run", run, "--stage", "fusion", "--adversarial", dir.path.string(),
                                    "--gan-loss", "wgan"});
  CHECK(a3.status == 2);
  CHECK(a3.err.find("--gan-loss") != std::string::npos);
  for (const ProcessResult* r : {&a1, &a2, &a3}) CHECK(line_count(r->err) == 1);
  CHECK_FALSE(fs::exists(dir.path / "adv" / "checkpoint.safetensors"));
}

TEST_CASE("cli: --device is checked before any work: a bad name is a usage error, a missing GPU one line") {
  const TempDir tmp("cli_device");
  const std::vector<std::vector<std::string>> commands = {
      {"features", "--image", "x.jpg", "--layers", "relu1_1", "--out", (tmp.path / "f.npy").string()},
      {"stylize", "--content", "x.jpg", "--style", "y.jpg", "--out", (tmp.path / "o.png").string()},
      {"train", "--run", (tmp.path / "run").string()},
      {"eval", "--quiet"},
  };
  for (const auto& base : commands) {
    CAPTURE(base[0]);
    std::vector<std::string> bad = base;
    bad.insert(bad.end(), {"--device", "gpu"});
    const ProcessResult r = run_cli(bad);
    CHECK(r.status == 2);
    CHECK(line_count(r.err) == 1);
    CHECK(r.err.find("unknown device 'gpu'") != std::string::npos);
    if (sn::cuda::device_count() > 0) continue;  // a GPU here: the missing-device path cannot be shown
    std::vector<std::string> gpu = base;
    gpu.insert(gpu.end(), {"--device", "cuda"});
    const ProcessResult g = run_cli(gpu);
    CAPTURE(g.err);
    CHECK(g.status != 0);
    CHECK(line_count(g.err) == 1);
    CHECK(g.err.find("cuda") != std::string::npos);
  }
  CHECK(tmp.files().empty());  // nothing written
}
