// Runs the built `stylenet` binary as a user would, capturing its exit status, output, wall time
// and peak resident memory. A child that runs past its time limit is killed and reported, so a
// hanging command fails its test instead of hanging the suite.
//
// The peak comes from wait4's ru_maxrss. posix_spawn runs the child on this process's memory
// until exec, and Linux carries that memory's high-water mark into the child's ru_maxrss, so the
// test process's own peak (VmHWM) is reset to its current size first (/proc/self/clear_refs).
// The child's figure is then max(its own peak, this process's size at the spawn), which is also
// recorded.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tensor/error.h"
#include "weights/atomic_file.h"

extern char** environ;

namespace sn::test {

struct ProcessResult {
  int status = -1;  // exit status; -1 when killed by a signal or the time limit
  bool timed_out = false;
  std::string out, err;
  double seconds = 0.0, peak_rss_mb = 0.0;
  double parent_rss_mb = 0.0;  // this process's resident size when the child started
};

// The binary under test: the one built beside the tests (STYLENET_CLI_PATH, set by CMake), or
// $STYLENET_CLI_BIN to test another build.
inline std::string cli_binary() {
  const char* env = std::getenv("STYLENET_CLI_BIN");
  const std::string bin = env && *env ? env : STYLENET_CLI_PATH;
  SN_CHECK(std::filesystem::exists(bin), "the stylenet binary '", bin, "' does not exist");
  return bin;
}

// Lines of text, counting a last line without its newline.
inline int line_count(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n + (!s.empty() && s.back() != '\n');
}

// `env` entries ("NAME=value") are added to, or replace, the test's own environment.
inline ProcessResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                                 double timeout_s = 120.0) {
  namespace fs = std::filesystem;
  static int counter = 0;
  const fs::path base = fs::temp_directory_path() / ("sn_cli_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  const std::string out_file = base.string() + ".out", err_file = base.string() + ".err";

  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    bool replaced = false;
    for (const auto& o : env) replaced |= entry.compare(0, o.find('=') + 1, o, 0, o.find('=') + 1) == 0;
    if (!replaced) envs.push_back(entry);
  }
  envs.insert(envs.end(), env.begin(), env.end());
  std::vector<std::string> args = argv;
  std::vector<char*> cargv, cenv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : envs) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ProcessResult r;
  {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
  }
  {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
      if (line.rfind("VmRSS:", 0) == 0) r.parent_rss_mb = std::stod(line.substr(6)) * 1024 / 1e6;
  }
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  SN_CHECK(rc == 0, "cannot start ", argv[0]);

  int status = 0;
  struct rusage usage {};
  for (;;) {
    const pid_t done = ::wait4(pid, &status, WNOHANG, &usage);
    if (done == pid) break;
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > timeout_s && !r.timed_out) {
      r.timed_out = true;
      ::kill(pid, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.status = WIFEXITED(status) && !r.timed_out ? WEXITSTATUS(status) : -1;
  r.peak_rss_mb = static_cast<double>(usage.ru_maxrss) * 1024 / 1e6;  // ru_maxrss is in KiB on Linux
  r.out = read_file(out_file);
  r.err = read_file(err_file);
  fs::remove(out_file);
  fs::remove(err_file);
  return r;
}

inline ProcessResult run_cli(std::vector<std::string> args, const std::vector<std::string>& env = {},
                             double timeout_s = 120.0) {
  args.insert(args.begin(), cli_binary());
  return run_process(args, env, timeout_s);
}

}  // namespace sn::test
