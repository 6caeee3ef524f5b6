// What survives a kill: SIGKILL at any moment of a training run leaves the last checkpoint
// loadable, and a run killed again and again, resumed each time, ends with the very model an
// uninterrupted run makes.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "tests/run_process.h"
#include "tests/style_fixtures.h"
#include "tests/temp_dir.h"
#include "tests/tensor_compare.h"
#include "training/train_log.h"
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

namespace {

// `stylenet train` with these arguments, started now; its pid.
pid_t start_training(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {cli_binary(), "train"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> c;
  for (std::string& a : argv) c.push_back(a.data());
  c.push_back(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::execv(c[0], c.data());
    ::_exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

}  // namespace

TEST_CASE("training: killed at 20 random moments and resumed each time, the run ends bit-identical") {
  TempDir dir("kill_anywhere");
  // A run of a few seconds: start-up (the stand-in encoder, the data), then 60 steps with a
  // checkpoint every 2, so kills land in start-up, steps and checkpoint writes alike.
  const std::vector<std::string> setup = {"--steps", "60", "--batch", "2", "--crop", "64", "--max-images", "3",
                                          "--decoder-width", "0.125", "--seed", "3", "--warmup", "2"};
  const std::vector<std::string> each = {"--checkpoint-every", "2", "--sample-every", "0", "--quiet", "--threads", "1"};
  auto args = [&](const fs::path& run, bool resume) {
    std::vector<std::string> a = {"--run", run.string()};
    a.insert(a.end(), each.begin(), each.end());
    if (resume) a.push_back("--resume");
    else a.insert(a.end(), setup.begin(), setup.end());
    return a;
  };
  const fs::path straight = dir.path / "straight", killed = dir.path / "killed";
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(wait_exit(start_training(args(straight, false))) == 0);
  const double run_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  // Each kill at a random moment within a sixth of a whole run's length (seeded): in start-up,
  // mid-step, mid-write, or after the run ended; a sixth, so that the run takes many kills to
  // finish (start-up is short since the stand-in draws only the layers a run uses, so each
  // restart gets further than when it took a second).
  Generator moments(2026);
  const fs::path ck = killed / "checkpoint.safetensors";
  int killed_while_running = 0;
  std::set<int64_t> checkpoint_steps;
  for (int i = 0; i < 20; ++i) {
    const pid_t pid = start_training(args(killed, fs::exists(ck)));
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(moments.uniform(0.0, run_ms / 6)));
    ::kill(pid, SIGKILL);
    killed_while_running += WIFSIGNALED(wait_exit(pid));
    if (!fs::exists(ck)) continue;
    int64_t step = -1;
    CHECK_NOTHROW(step = load_checkpoint(ck).step);  // never a checkpoint that fails to load
    checkpoint_steps.insert(step);
  }
  INFO("checkpoints seen after kills: ", checkpoint_steps.size(), "; kills that stopped a running process: ",
       killed_while_running);
  CHECK(killed_while_running >= 8);
  CHECK(checkpoint_steps.size() >= 3);  // the kills landed at several points of the training
  REQUIRE(wait_exit(start_training(args(killed, fs::exists(ck)))) == 0);
  const StyleModel a = StyleModel::load(straight / "model.safetensors"), b = StyleModel::load(killed / "model.safetensors");
  const TensorDict bs = b.state_dict();
  for (const auto& [k, v] : a.state_dict()) {
    CAPTURE(k);
    CHECK(max_abs_diff(v, bs.at(k)) == 0.0);
  }
  CHECK(TrainLog::read_series(killed / "log.jsonl").at("loss") == TrainLog::read_series(straight / "log.jsonl").at("loss"));
}
