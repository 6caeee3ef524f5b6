// The `stylenet` command as a user meets it: help, versions, and bad usage. Every failure is one
// clear line on stderr with a non-zero status (2 for usage, 1 for a failure while running), and
// never a crash or a partial output file.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>

#include "tests/cli_runner.h"

using namespace sn::test;
namespace fs = std::filesystem;

TEST_CASE("cli: help lists the commands; --version prints the version") {
  const CliResult help = run_cli({"help"});
  CHECK(help.status == 0);
  CHECK(help.out.find("demo") != std::string::npos);
  const CliResult none = run_cli({});
  CHECK(none.status == 2);  // no command is a usage error, but still shows the help
  CHECK(none.out.find("usage: stylenet") != std::string::npos);
  const CliResult v = run_cli({"--version"});
  CHECK(v.status == 0);
  CHECK(v.out.rfind("stylenet ", 0) == 0);
  const CliResult dh = run_cli({"demo", "--help"});
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
    const CliResult r = run_cli(b.args);
    CAPTURE(r.err);
    CHECK(r.status == 2);
    CHECK(line_count(r.err) == 1);
    CHECK(r.err.find(b.says) != std::string::npos);
  }
}

TEST_CASE("cli: demo writes its sheet atomically and fails cleanly without data") {
  const fs::path dir = fs::temp_directory_path() / ("stylenet_cli_demo_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path out = dir / "sheet.png";
  const CliResult ok = run_cli({"demo", "--steps", "3", "--batch", "2", "--crop", "16", "--images", "4",
                                "--quiet", "--out", out.string()});
  CAPTURE(ok.err);
  CHECK(ok.status == 0);
  CHECK(fs::file_size(out) > 1000);
  CHECK(ok.out.find("wrote") != std::string::npos);

  // Data missing: one error line, status 1, the earlier sheet is kept and no temp file is left.
  const auto before = fs::last_write_time(out);
  const char* saved = std::getenv("STYLENET_DATA");
  const std::string saved_value = saved ? saved : "";
  ::setenv("STYLENET_DATA", (dir / "nowhere").c_str(), 1);
  const CliResult bad = run_cli({"demo", "--steps", "3", "--quiet", "--out", out.string()});
  if (saved) ::setenv("STYLENET_DATA", saved_value.c_str(), 1); else ::unsetenv("STYLENET_DATA");
  CAPTURE(bad.err);
  CHECK(bad.status == 1);
  CHECK(line_count(bad.err) == 1);
  CHECK(bad.err.find("nowhere") != std::string::npos);
  CHECK(fs::last_write_time(out) == before);
  int files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++files;
  CHECK(files == 1);
  fs::remove_all(dir);
}
