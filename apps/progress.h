// One progress line on stderr that rewrites itself: "label  12/50  0:07 left  loss 0.0123".
// Shown only when stderr is a terminal and --quiet was not given, so logs and pipes stay clean.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace sn::cli {

class ProgressLine {
 public:
  ProgressLine(std::string label, int64_t total, bool quiet);
  ~ProgressLine();  // ends the line if it is still open
  // `done` of `total` finished; `detail` follows the estimate (e.g. the loss).
  void update(int64_t done, const std::string& detail = "");
  void set_total(int64_t total) { total_ = total; }
  bool shown() const { return shown_; }

 private:
  std::string label_;
  int64_t total_;
  bool shown_, open_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), first_time_;
  int64_t first_done_ = -1;
};

// "h:mm:ss".
std::string clock_text(double seconds);

}  // namespace sn::cli
