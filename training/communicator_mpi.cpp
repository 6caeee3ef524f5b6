// The MPI communicator (built with STYLENET_MPI; Open MPI from Debian). Used when the process was
// started by an MPI launcher (mpirun, srun); a plain `stylenet train` stays a single process.
//
// Every collective is non-blocking underneath and waited on with a deadline, so a rank that hangs
// ends the job with a message naming it instead of a silent stall (a rank that dies is reported by
// mpirun itself, which ends the job at once). To name it, every rank tells rank 0 each time it
// enters a collective, and every second while it waits in one (8-byte messages); rank 0 reads
// these while it waits, and on a timeout names the ranks that never entered the collective, or
// stopped answering inside it. Sums are reduced on rank 0 and broadcast from it, so
// every rank holds the same bits (an allreduce may round differently on different ranks, and the
// replicas' parameters would then drift apart).
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <thread>

#include "tensor/error.h"
#include "training/communicator.h"

namespace sn {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kArrivalTag = 7301;
constexpr size_t kBucket = size_t{1} << 22;  // elements per reduction: 16 MB of float32

[[noreturn]] void end_job(int rank, const std::string& message) {
  std::fprintf(stderr, "stylenet train: error: rank %d: %s\n", rank, message.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();
}

class Mpi final : public Communicator {
 public:
  Mpi() {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);  // only the main thread talks MPI
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &local_size_);
    MPI_Comm_free(&node);
    timeout_ = communicator_timeout();
    seen_.assign(size_, 0);
    heard_.assign(size_, Clock::now());
    std::atexit([] {
      int finalized = 0;
      MPI_Finalized(&finalized);
      if (!finalized) MPI_Finalize();
    });
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_size() const override { return local_size_; }
  std::string describe() const override {
    return "MPI (" + std::to_string(size_) + " ranks, " + std::to_string(local_size_) + " on this node)";
  }

  void allreduce_sum(float* data, size_t count) override { reduce(data, count, MPI_FLOAT, sizeof(float)); }
  void allreduce_sum(double* data, size_t count) override { reduce(data, count, MPI_DOUBLE, sizeof(double)); }

  void broadcast(void* data, size_t bytes) override {
    enter();
    auto* p = static_cast<char*>(data);
    for (size_t at = 0; at < bytes; at += kBucket) {
      const int n = static_cast<int>(std::min(kBucket, bytes - at));
      MPI_Request req;
      MPI_Ibcast(p + at, n, MPI_BYTE, 0, MPI_COMM_WORLD, &req);
      wait(req, "a broadcast of rank 0's state");
    }
  }

  bool any(bool flag) override { return any(flag, "the stop flag"); }

  std::vector<std::string> gather(const std::string& bytes) override {
    enter();
    long long mine = static_cast<long long>(bytes.size());
    std::vector<long long> sizes(root() ? size_ : 0);
    MPI_Request req;
    MPI_Igather(&mine, 1, MPI_LONG_LONG, sizes.data(), 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD, &req);
    wait(req, "gathering sizes");
    std::vector<int> counts(size_), offsets(size_);
    long long total = 0;
    for (int r = 0; root() && r < size_; ++r) {
      SN_CHECK(total + sizes[r] < std::numeric_limits<int>::max(), "gather: more than 2 GiB");
      counts[r] = static_cast<int>(sizes[r]);
      offsets[r] = static_cast<int>(total);
      total += sizes[r];
    }
    std::string all(static_cast<size_t>(total), '\0');
    MPI_Igatherv(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, all.data(), counts.data(), offsets.data(),
                 MPI_BYTE, 0, MPI_COMM_WORLD, &req);
    wait(req, "gathering per-rank state");
    std::vector<std::string> out;
    for (int r = 0; root() && r < size_; ++r) out.push_back(all.substr(offsets[r], counts[r]));
    return out;
  }

  void sync_step(int64_t step) override {
    const auto t0 = Clock::now();
    step_ = step;
    any(false, "the start of the step");  // a barrier that names the ranks that do not reach it
    stats.wait_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  }

 private:
  bool any(bool flag, const char* what) {
    enter();
    int local = flag ? 1 : 0, global = 0;
    MPI_Request req;
    MPI_Iallreduce(&local, &global, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD, &req);
    wait(req, what, Pace::Arrival);
    return global != 0;
  }

  // Counts this collective and tells rank 0 this rank has reached it.
  void enter() {
    ++collective_;
    report();
  }

  // Tells rank 0 which collective this rank is in (8 bytes: sent eagerly, never waits for rank 0).
  void report() {
    if (root()) return;
    arrived_ = collective_;
    MPI_Send(&arrived_, 1, MPI_LONG_LONG, 0, kArrivalTag, MPI_COMM_WORLD);
    last_report_ = Clock::now();
  }

  // Rank 0: the arrivals received so far.
  void read_arrivals() {
    for (;;) {
      int pending = 0;
      MPI_Status st;
      MPI_Iprobe(MPI_ANY_SOURCE, kArrivalTag, MPI_COMM_WORLD, &pending, &st);
      if (!pending) return;
      long long at = 0;
      MPI_Recv(&at, 1, MPI_LONG_LONG, st.MPI_SOURCE, kArrivalTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      seen_[st.MPI_SOURCE] = std::max(seen_[st.MPI_SOURCE], at);
      heard_[st.MPI_SOURCE] = Clock::now();
    }
  }

  [[noreturn]] void timed_out(const std::string& what) {
    const std::string limit = std::to_string(static_cast<int>(timeout_)) + " s";
    if (!root())
      end_job(rank_, "no answer from the other ranks within " + limit + " in " + what + " at step " +
                         std::to_string(step_) + " (a rank died or hangs; STYLENET_MPI_TIMEOUT sets the limit)");
    read_arrivals();
    // Not here yet, or here but silent for longer than two of its once-a-second reports.
    std::string missing;
    for (int r = 1; r < size_; ++r)
      if (seen_[r] < collective_ || Clock::now() - heard_[r] > std::chrono::seconds(3))
        missing += (missing.empty() ? "" : ", ") + std::to_string(r);
    end_job(rank_, "rank " + missing + " did not reach step " + std::to_string(step_) + " (" + what + ") within " +
                       limit + ": it died or hangs. The last checkpoint is kept; STYLENET_MPI_TIMEOUT sets the limit");
  }

  void reduce(void* data, size_t count, MPI_Datatype type, size_t elem) {
    enter();
    // First wait for every rank to have its gradient, so that the exchange's time measures moving
    // and summing bytes, and a slower rank's compute shows as waiting (the benchmark's split).
    const auto t_arrive = Clock::now();
    MPI_Request barrier;
    MPI_Ibarrier(MPI_COMM_WORLD, &barrier);
    wait(barrier, "the gradient exchange", Pace::Arrival);
    const auto t0 = Clock::now();
    stats.wait_seconds += std::chrono::duration<double>(t0 - t_arrive).count();
    auto* p = static_cast<char*>(data);
    std::vector<char> sum(std::min(kBucket, count) * elem);
    for (size_t at = 0; at < count; at += kBucket) {
      const int n = static_cast<int>(std::min(kBucket, count - at));
      MPI_Request req;
      MPI_Ireduce(p + at * elem, sum.data(), n, type, MPI_SUM, 0, MPI_COMM_WORLD, &req);
      wait(req, "the gradient exchange");
      if (root()) std::copy(sum.begin(), sum.begin() + n * elem, p + at * elem);
      MPI_Ibcast(p + at * elem, n, type, 0, MPI_COMM_WORLD, &req);
      wait(req, "the gradient exchange");
      stats.bytes += static_cast<int64_t>(n * elem);
    }
    stats.allreduce_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  }

  // Polls until the request completes or the timeout passes. Non-blocking collectives advance
  // only while some call polls them, so a transfer (every rank is there) polls without pause; a
  // wait for other ranks to arrive (Pace::Arrival) sleeps between polls once it is long, so that a
  // waiting rank does not take the core a busy one needs.
  enum class Pace { Transfer, Arrival };
  void wait(MPI_Request& req, const std::string& what, Pace pace = Pace::Transfer) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_);
    for (int polls = 0;; ++polls) {
      int done = 0;
      MPI_Test(&req, &done, MPI_STATUS_IGNORE);
      if (done) return;
      if (root()) read_arrivals();
      else if (Clock::now() - last_report_ > std::chrono::seconds(1)) report();
      if (Clock::now() > deadline) timed_out(what);
      if (pace == Pace::Arrival && polls > 1000) std::this_thread::sleep_for(std::chrono::microseconds(100));
      else if (polls > 1000) std::this_thread::yield();
    }
  }

  int rank_ = 0, size_ = 1, local_size_ = 1;
  double timeout_ = 60;
  int64_t step_ = 0;
  long long collective_ = 0, arrived_ = 0;
  std::vector<long long> seen_;           // rank 0: the last collective each rank reached
  std::vector<Clock::time_point> heard_;  // rank 0: when each rank last reported
  Clock::time_point last_report_;
};

bool launched_by_mpi() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(var)) return true;
  return false;
}

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator() {
  if (!launched_by_mpi()) return nullptr;
  return std::make_unique<Mpi>();
}

}  // namespace sn
