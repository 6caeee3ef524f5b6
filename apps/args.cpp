#include "apps/args.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "tensor/cuda/cuda.h"
#include "tensor/threads.h"

namespace sn::cli {

Args::Args(const std::vector<std::string>& argv, const std::set<std::string>& options,
           const std::set<std::string>& switches) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.rfind("--", 0) != 0 || a == "--") {
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (switches.count(name)) {
      if (inline_value) throw UsageError("option --" + name + " takes no value");
      values_[name] = "1";
    } else if (options.count(name)) {
      if (!inline_value) {
        if (i + 1 >= argv.size()) throw UsageError("option --" + name + " needs a value");
        value = argv[++i];
      }
      values_[name] = value;
    } else {
      throw UsageError("unknown option --" + name);
    }
  }
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::string Args::require(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw UsageError("missing required option --" + name);
  return it->second;
}

int64_t Args::get_int(const std::string& name, int64_t fallback, int64_t lo, int64_t hi) const {
  if (!has(name)) return fallback;
  const std::string s = get(name, "");
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno == ERANGE || v < lo || v > hi)
    throw UsageError("--" + name + " expects an integer from " + std::to_string(lo) + " to " +
                     std::to_string(hi) + ", got '" + s + "'");
  return v;
}

namespace {
// 0, 1, 0.5, 1e+30: a bound as a user would write it (std::to_string gives 30 digits for 1e30).
std::string compact(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

double number_in(const std::string& name, const std::string& s, double lo, double hi) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v) || v < lo || v > hi)
    throw UsageError("--" + name + " expects a number from " + compact(lo) + " to " + compact(hi) + ", got '" + s +
                     "'");
  return v;
}
}  // namespace

double Args::get_double(const std::string& name, double fallback, double lo, double hi) const {
  return has(name) ? number_in(name, get(name, ""), lo, hi) : fallback;
}

std::vector<double> Args::get_doubles(const std::string& name, double lo, double hi) const {
  std::vector<double> values;
  if (!has(name)) return values;
  for (const std::string& v : split_list(get(name, ""))) values.push_back(number_in(name, v, lo, hi));
  if (values.empty()) throw UsageError("--" + name + " has no values");
  return values;
}

void check_output_path(const std::string& path, const std::set<std::string>& extensions) {
  namespace fs = std::filesystem;
  if (path.empty()) throw UsageError("empty output path");
  const fs::path p(path);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw UsageError("output folder '" + dir.string() + "' does not exist");
  if (fs::is_directory(p, ec)) throw UsageError("output '" + path + "' is a folder, not a file");
  if (extensions.empty()) return;
  std::string ext = p.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!extensions.count(ext)) {
    std::string list;
    for (const auto& e : extensions) list += (list.empty() ? "" : ", ") + e;
    throw UsageError("output '" + path + "' must end in one of: " + list);
  }
}

std::vector<std::string> split_list(const std::string& value) {
  std::vector<std::string> parts;
  size_t begin = 0;
  while (begin <= value.size()) {
    const size_t end = std::min(value.find(',', begin), value.size());
    if (end > begin) parts.push_back(value.substr(begin, end - begin));
    begin = end + 1;
  }
  return parts;
}

void apply_threads(const Args& args) {
  if (args.has("threads")) sn::set_num_threads(static_cast<int>(args.get_int("threads", 0, 1, 256)));
}

Device device_option(const Args& args) {
  Device device;
  try {
    device = parse_device(args.get("device", "cpu"));
  } catch (const Error& e) {
    throw UsageError(std::string("--device: ") + e.what());
  }
  cuda::require(device);  // no GPU, driver or CUDA build: one line saying which, before any work
  return device;
}

std::string finish_help() {
  char smooth[16];
  std::snprintf(smooth, sizeof smooth, "%g", FinishOptions{}.smooth);
  return std::string("  --smooth R           edge-aware smoothing with the photo as guide after decoding, radius R px per\n"
                     "                       256 px of the photo's short side (default ") + smooth + "; 0: off): no grain or rims\n" +
         "  --no-color-match     keep the decoder's colours (default: the style's RGB mean and covariance)\n";
}

FinishOptions finish_options(const Args& args) {
  FinishOptions finish;
  finish.smooth = args.get_double("smooth", finish.smooth, 0.0, 64.0);
  finish.match_colors = !args.flag("no-color-match");
  return finish;
}

}  // namespace sn::cli
