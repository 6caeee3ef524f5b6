// A run's log.jsonl: one JSON object per step, {"step":N,"lr":X,<term>:X,...,"time":S,...},
// appended and flushed as the run goes (a killed run keeps every step it finished). Read back with
// the strict JSON parser of weights/json.h. After the terms come the clock's fields (TrainClock):
// seconds since the start and, on several ranks, what the exchanges cost so far.
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace sn {

// Cumulative since the run (or its resume) started.
struct TrainClock {
  double seconds = 0;
  int ranks = 1;
  double exchange_seconds = 0;  // in gradient and loss allreduces (logged with ranks > 1)
  double wait_seconds = 0;      // waiting for the slowest rank (step start, before exchanges)
  int64_t exchange_bytes = 0;   // the allreduces' payload (CommStats::bytes)
};

class TrainLog {
 public:
  // A fresh run empties the file; a resumed one keeps the lines of steps <= resume_step (it
  // rewrites what came after its checkpoint). resume_step < 0: fresh.
  TrainLog(std::filesystem::path path, int64_t resume_step);
  void append(int64_t step, double lr, const std::map<std::string, double>& terms, const TrainClock& clock);
  void close() { out_.close(); }
  // Every step's value of each term, the whole run (resumed parts included), lr and the clock's
  // fields left out.
  static std::map<std::string, std::vector<double>> read_series(const std::filesystem::path& path);

 private:
  std::filesystem::path path_;
  std::ofstream out_;
};

}  // namespace sn
