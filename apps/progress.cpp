#include "apps/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace sn::cli {

std::string clock_text(double seconds) {
  const long s = static_cast<long>(std::max(0.0, seconds));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  return buf;
}

ProgressLine::ProgressLine(std::string label, int64_t total, bool quiet)
    : label_(std::move(label)), total_(total), shown_(!quiet && ::isatty(STDERR_FILENO)) {}

ProgressLine::~ProgressLine() {
  if (open_) std::fputc('\n', stderr);
}

void ProgressLine::update(int64_t done, const std::string& detail) {
  if (!shown_) return;
  const auto now = std::chrono::steady_clock::now();
  if (first_done_ < 0) first_done_ = done, first_time_ = now;  // a resumed run starts mid-way
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double since = std::chrono::duration<double>(now - first_time_).count();
  // The rate since the first update, which also leaves set-up time out of the estimate.
  const std::string left = done > first_done_ ? clock_text(since / (done - first_done_) * (total_ - done)) : "?";
  std::fprintf(stderr, "\r%s %lld/%lld  %s elapsed, %s left %s\033[K", label_.c_str(), static_cast<long long>(done),
               static_cast<long long>(total_), clock_text(secs).c_str(), left.c_str(), detail.c_str());
  open_ = done < total_;
  if (!open_) std::fputc('\n', stderr);
  std::fflush(stderr);
}

}  // namespace sn::cli
