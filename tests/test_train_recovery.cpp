// What survives a kill: SIGKILL at any moment of a training run leaves the last checkpoint
// loadable.
#include <doctest/doctest.h>

#include <chrono>
#include <signal.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <filesystem>

#include "tests/run_process.h"
#include "tests/style_fixtures.h"
#include "tests/temp_dir.h"
#include "weights/checkpoint.h"

using namespace sn;
using namespace sn::test;
namespace fs = std::filesystem;

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
