// The processes one training run is spread over: data parallelism over MPI (Open MPI from Debian),
// or, without MPI or when not launched by mpirun/srun, just this process. Every collective is
// called by every rank in the same order; each waits at most timeout() for the others, then ends
// the whole job with one message naming the ranks that did not answer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sn {

// What the exchange cost, for the benchmark and the README's scaling model.
struct CommStats {
  double allreduce_seconds = 0;  // moving and summing the bytes of gradient and loss exchanges
  double wait_seconds = 0;       // waiting for the slowest rank (at the step, before each exchange)
  int64_t bytes = 0;             // the payload of the allreduces (each rank's buffer, summed over calls)
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int local_size() const = 0;  // ranks on this node
  bool root() const { return rank() == 0; }
  // "MPI (4 ranks, 2 on this node)" or "a single process".
  virtual std::string describe() const = 0;

  // Elementwise sum over ranks, in place; the same bits on every rank.
  virtual void allreduce_sum(float* data, size_t count) = 0;
  virtual void allreduce_sum(double* data, size_t count) = 0;
  // Rank 0's bytes into every rank's buffer (the same size everywhere).
  virtual void broadcast(void* data, size_t bytes) = 0;
  // Whether `flag` is set on any rank.
  virtual bool any(bool flag) = 0;
  // Every rank's bytes, on rank 0 (in rank order); other ranks get an empty list.
  virtual std::vector<std::string> gather(const std::string& bytes) = 0;
  // Returns when every rank has reached `step`; ends the job naming the missing ranks after the
  // timeout (a rank that died or hangs).
  virtual void sync_step(int64_t step) = 0;

  CommStats stats;
};

// The communicator of this process (created on first use; MPI is finalised at exit).
Communicator& world_communicator();
// The seconds a collective waits for the other ranks: STYLENET_MPI_TIMEOUT, default 60.
double communicator_timeout();

}  // namespace sn
