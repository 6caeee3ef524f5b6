// Data-parallel training over MPI, through the command as a user launches it (mpirun
// --oversubscribe on this machine, one thread per rank): N ranks with --batch b give the model
// and the losses one process with batch N*b gives; with a discriminator too; a run killed and
// resumed ends where the uninterrupted one does; a resume may change the number of ranks; a rank
// that dies or hangs ends the job with a message naming it and leaves the last checkpoint
// loadable. Registered only when StyleNet is built with MPI (else ctest reports it skipped).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/run_process.h"
#include "tests/style_fixtures.h"
#include "tests/temp_dir.h"
#include "training/train_log.h"
#include "weights/checkpoint.h"

using namespace sn;
using namespace sn::test;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> mpirun_argv(int ranks, const std::vector<std::string>& train_args) {
  std::vector<std::string> a = {STYLENET_MPIRUN, "--allow-run-as-root", "--oversubscribe", "-np", std::to_string(ranks),
                                cli_binary(), "train"};
  a.insert(a.end(), train_args.begin(), train_args.end());
  return a;
}

// A small decoder-stage run: 6 photos, 32 px crops, one thread per rank.
std::vector<std::string> run_args(const fs::path& run, int batch, int steps, std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {"--run", run.string(), "--steps", std::to_string(steps), "--batch", std::to_string(batch),
                                "--crop", "32", "--max-images", "6", "--decoder-width", "0.125", "--k", "8",
                                "--warmup", "2", "--checkpoint-every", "4", "--sample-every", "0", "--quiet",
                                "--threads", "1"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

std::vector<std::string> resume_args(const fs::path& run) {
  return {"--run", run.string(), "--resume", "--checkpoint-every", "4", "--sample-every", "0", "--quiet", "--threads", "1"};
}

void run_ok(const std::vector<std::string>& argv, const std::vector<std::string>& env = {}) {
  const ProcessResult r = run_process(argv, env, 300);
  INFO(r.err);
  REQUIRE(r.status == 0);
}

// The relative difference of two models' whole parameter vectors, ||a - b|| / ||a||.
double vector_difference(const fs::path& a, const fs::path& b) {
  const TensorDict x = StyleModel::load(a / "model.safetensors").state_dict();
  const TensorDict y = StyleModel::load(b / "model.safetensors").state_dict();
  double num = 0, den = 0;
  for (const auto& [k, v] : x) {
    const std::vector<double> va = v.to_vector<double>(), vb = y.at(k).to_vector<double>();
    for (size_t i = 0; i < va.size(); ++i) {
      num += (va[i] - vb[i]) * (va[i] - vb[i]);
      den += va[i] * va[i];
    }
  }
  return std::sqrt(num / den);
}

// What "the same parameters" can mean in float32: the gradient is summed in another order (per
// rank, then over ranks, and the kernels block their sums by shape), and Adam divides each
// component by its own running scale, so rounding-level differences in small components become
// differences in the weights. Measured after 20 steps: 5e-7 to 4.1e-5 of the parameter vector's
// norm depending on the split (README), with every loss within 1e-6.
void check_same_parameters(const fs::path& a, const fs::path& b, double bound) {
  const double d = vector_difference(a, b);
  INFO("||a - b|| / ||a|| = ", d);
  CHECK(d <= bound);
}

std::vector<double> losses(const fs::path& run) { return TrainLog::read_series(run / "log.jsonl").at("loss"); }

// Every step's loss: float32 losses summed in another order (per rank, then over ranks) agree to
// a few float32 roundings.
void check_same_losses(const fs::path& a, const fs::path& b) {
  const std::vector<double> la = losses(a), lb = losses(b);
  REQUIRE(la.size() == lb.size());
  for (size_t i = 0; i < la.size(); ++i) CHECK(std::abs(la[i] - lb[i]) <= 1e-5 * std::abs(la[i]));
}

// Starts a command (mpirun) with stderr to a file and extra environment; its pid.
pid_t start(const std::vector<std::string>& argv, const std::string& err_file, const std::vector<std::string>& env) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    for (const std::string& e : env) ::putenv(const_cast<char*>(e.c_str()));
    const int fd = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 2);
    std::vector<char*> c;
    for (const std::string& a : argv) c.push_back(const_cast<char*>(a.c_str()));
    c.push_back(nullptr);
    ::execv(c[0], c.data());
    ::_exit(127);
  }
  return pid;
}

pid_t parent_of(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const size_t close = line.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return -1;
  std::istringstream rest(line.substr(close + 2));
  char state = 0;
  pid_t ppid = -1;
  rest >> state >> ppid;
  return ppid;
}

// The processes below `root` (mpirun's ranks and helpers), deepest last.
std::vector<pid_t> descendants(pid_t root) {
  std::vector<pid_t> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = std::stoi(name);
    for (pid_t p = parent_of(pid); p > 1; p = parent_of(p))
      if (p == root) {
        out.push_back(pid);
        break;
      }
  }
  return out;
}

// mpirun and every rank at once, as a machine failure would (no rank writes after this).
void kill_job(pid_t job) {
  const std::vector<pid_t> below = descendants(job);
  ::kill(job, SIGKILL);
  for (pid_t p : below) ::kill(p, SIGKILL);
}

// The pid of MPI rank `rank` of the job.
pid_t rank_pid(pid_t job, int rank) {
  for (pid_t pid : descendants(job)) {
    std::ifstream env("/proc/" + std::to_string(pid) + "/environ");
    std::string var;
    while (std::getline(env, var, '\0'))
      if (var == "OMPI_COMM_WORLD_RANK=" + std::to_string(rank)) return pid;
  }
  return -1;
}

// Waits up to `seconds` for the checkpoint to reach `step`.
bool wait_for_checkpoint(const fs::path& run, int64_t step, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      if (fs::exists(run / "checkpoint.safetensors") && load_checkpoint(run / "checkpoint.safetensors").step >= step)
        return true;
    } catch (const Error&) {  // being replaced right now: the rename is atomic, try again
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// Waits for a process; its exit status, or -1 after `seconds`.
int wait_exit(pid_t pid, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

}  // namespace

TEST_CASE("mpi: N ranks with batch b give one process's model and losses with batch N*b") {
  TempDir dir("mpi_equal");
  for (int n : {2, 4}) {
    CAPTURE(n);
    const fs::path ranks = dir.path / ("ranks" + std::to_string(n)), one = dir.path / ("one" + std::to_string(n));
    run_ok(mpirun_argv(n, run_args(ranks, 1, 20)));
    run_ok(mpirun_argv(1, run_args(one, n, 20)));
    check_same_parameters(ranks, one, 1e-4);
    check_same_losses(ranks, one);
    CHECK(load_checkpoint(ranks / "checkpoint.safetensors").info.at("ranks") == std::to_string(n));
  }
}

TEST_CASE("mpi: with a discriminator, N ranks give one process's model and losses too") {
  TempDir dir("mpi_gan");
  const std::vector<std::string> gan = {"--stage", "fusion", "--adversarial", data_root() + "/data/style/vangogh",
                                        "--d-base", "4", "--d-layers", "2", "--pool", "0"};
  run_ok(mpirun_argv(2, run_args(dir.path / "ranks", 1, 10, gan)));
  run_ok(mpirun_argv(1, run_args(dir.path / "one", 2, 10, gan)));
  check_same_parameters(dir.path / "ranks", dir.path / "one", 1e-4);
  check_same_losses(dir.path / "ranks", dir.path / "one");
  for (const char* term : {"adv_d", "d_acc_real"})
    CHECK(TrainLog::read_series(dir.path / "ranks" / "log.jsonl").at(term).size() == 10);
}

TEST_CASE("mpi: killed mid-run and resumed, the run ends as the uninterrupted one; resume may change the ranks") {
  TempDir dir("mpi_resume");
  const fs::path straight = dir.path / "straight", killed = dir.path / "killed";
  run_ok(mpirun_argv(2, run_args(straight, 1, 24)));
  const pid_t job = start(mpirun_argv(2, run_args(killed, 1, 24)), (dir.path / "err1").string(), {});
  REQUIRE(wait_for_checkpoint(killed, 8, 120));
  kill_job(job);
  wait_exit(job, 30);
  const int64_t at = load_checkpoint(killed / "checkpoint.safetensors").step;
  CHECK(at < 24);
  run_ok(mpirun_argv(2, resume_args(killed)));
  CHECK(vector_difference(straight, killed) == 0.0);  // the same ranks: bit for bit
  check_same_losses(straight, killed);

  // A 2-rank checkpoint resumed on 4 ranks continues (a larger global batch from there on).
  const fs::path grown = dir.path / "grown";
  const pid_t job2 = start(mpirun_argv(2, run_args(grown, 1, 16)), (dir.path / "err2").string(), {});
  REQUIRE(wait_for_checkpoint(grown, 4, 120));
  kill_job(job2);
  wait_exit(job2, 30);
  run_ok(mpirun_argv(4, resume_args(grown)));
  CHECK(losses(grown).size() == 16);
  CHECK(load_checkpoint(grown / "checkpoint.safetensors").info.at("ranks") == "4");
}

TEST_CASE("mpi: a rank that dies or hangs ends the job naming it; the last checkpoint loads") {
  TempDir dir("mpi_fail");
  struct Case {
    const char* name;
    int signal;
    const char* says;  // in the job's stderr
  };
  // SIGKILL: mpirun notices the rank's death; SIGSTOP: the others wait STYLENET_MPI_TIMEOUT for it.
  for (const Case& c : {Case{"dies", SIGKILL, "rank 1"}, Case{"hangs", SIGSTOP, "rank 1 did not reach step"}}) {
    CAPTURE(c.name);
    const fs::path run = dir.path / c.name;
    const std::string err = (dir.path / (std::string(c.name) + ".err")).string();
    const auto t0 = std::chrono::steady_clock::now();
    const pid_t job = start(mpirun_argv(2, run_args(run, 1, 100000)), err, {"STYLENET_MPI_TIMEOUT=5"});
    REQUIRE(wait_for_checkpoint(run, 4, 120));
    const pid_t victim = rank_pid(job, 1);
    REQUIRE(victim > 0);
    ::kill(victim, c.signal);
    const std::vector<pid_t> ranks = descendants(job);
    const int status = wait_exit(job, 60);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    kill_job(job);  // whatever is left (a stopped rank)
    for (pid_t p : ranks) ::kill(p, SIGKILL);
    const std::string message = read_file(err);
    INFO(message);
    CHECK(status > 0);  // the job ended, with a failure status, within the minute
    CHECK(seconds < 180);
    CHECK(message.find(c.says) != std::string::npos);
    CHECK_NOTHROW(load_checkpoint(run / "checkpoint.safetensors"));
  }
}
