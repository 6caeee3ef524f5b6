#include "training/train_log.h"

#include <charconv>
#include <optional>

#include "tensor/error.h"
#include "weights/atomic_file.h"
#include "weights/json.h"

namespace sn {

namespace {

std::string number_text(double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 9);
  return std::string(buf, r.ptr);
}

// A log line as a JSON object with a step; nullopt for anything else (the last line of a run
// killed mid-write).
std::optional<json::Value> parse_line(const std::string& line) {
  try {
    json::Value v = json::parse(line, "log.jsonl");
    if (v.is(json::Value::Kind::Object) && v.find("step")) return v;
  } catch (const Error&) {
  }
  return std::nullopt;
}

// The fields of a line that are not loss terms (read_series leaves them out).
bool is_term(const std::string& key) {
  static const char* const kOther[] = {"step", "lr", "time", "exchange_s", "wait_s", "exchange_bytes"};
  for (const char* k : kOther)
    if (key == k) return false;
  return true;
}

}  // namespace

TrainLog::TrainLog(std::filesystem::path path, int64_t resume_step) : path_(std::move(path)) {
  std::string kept;
  if (resume_step >= 0 && std::filesystem::exists(path_)) {
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) {
      const std::optional<json::Value> v = parse_line(line);
      if (v && v->find("step")->as_int64("step") <= resume_step) kept += line + "\n";
    }
  }
  write_file_atomic(path_, kept);
  out_.open(path_, std::ios::app);
}

void TrainLog::append(int64_t step, double lr, const std::map<std::string, double>& terms, const TrainClock& clock) {
  std::string line = "{\"step\":" + std::to_string(step) + ",\"lr\":" + number_text(lr);
  for (const auto& [k, v] : terms) {
    line += ',';
    line += json::quote(k);
    line += ':';
    line += number_text(v);
  }
  line += ",\"time\":" + number_text(clock.seconds);
  if (clock.ranks > 1)
    line += ",\"exchange_s\":" + number_text(clock.exchange_seconds) + ",\"wait_s\":" + number_text(clock.wait_seconds) +
            ",\"exchange_bytes\":" + std::to_string(clock.exchange_bytes);
  line += "}\n";
  out_ << line << std::flush;
}

std::map<std::string, std::vector<double>> TrainLog::read_series(const std::filesystem::path& path) {
  std::map<std::string, std::vector<double>> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const std::optional<json::Value> v = parse_line(line);
    if (!v) continue;
    for (size_t i = 0; i < v->keys.size(); ++i) {
      const std::string& key = v->keys[i];
      if (is_term(key) && v->items[i].is(json::Value::Kind::Number))
        out[key].push_back(std::stod(v->items[i].text));
    }
  }
  return out;
}

}  // namespace sn
