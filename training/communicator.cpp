// The single-process communicator, and the choice between it and MPI (communicator_mpi.cpp).
#include "training/communicator.h"

#include <cstdlib>
#include <memory>

#include "tensor/env.h"
#include "tensor/error.h"

namespace sn {

namespace {

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_size() const override { return 1; }
  std::string describe() const override { return "a single process"; }
  void allreduce_sum(float*, size_t) override {}
  void allreduce_sum(double*, size_t) override {}
  void broadcast(void*, size_t) override {}
  bool any(bool flag) override { return flag; }
  std::vector<std::string> gather(const std::string& bytes) override { return {bytes}; }
  void sync_step(int64_t) override {}
};

}  // namespace

#ifdef STYLENET_WITH_MPI
std::unique_ptr<Communicator> make_mpi_communicator();  // nullptr when not launched by an MPI launcher
#endif

Communicator& world_communicator() {
  static const std::unique_ptr<Communicator> world = [] {
#ifdef STYLENET_WITH_MPI
    if (auto mpi = make_mpi_communicator()) return mpi;
#endif
    return std::unique_ptr<Communicator>(new SingleProcess);
  }();
  return *world;
}

double communicator_timeout() {
  return env_number("STYLENET_MPI_TIMEOUT", 60.0, 1e-3, 1e9, "a positive number of seconds");
}

}  // namespace sn
