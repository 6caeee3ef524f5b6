// A small, strict command-line parser: --name value or --name=value, boolean switches, and a
// clear error for anything unknown, missing or malformed.
#pragma once
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "stylenet/finish.h"
#include "tensor/device.h"

namespace sn::cli {

// Thrown for bad usage; main() prints it with a hint and exits with status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Args {
 public:
  // `options` take a value, `switches` do not; anything else starting with -- is an error.
  Args(const std::vector<std::string>& argv, const std::set<std::string>& options,
       const std::set<std::string>& switches);

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::string get(const std::string& name, const std::string& fallback) const;
  std::string require(const std::string& name) const;
  int64_t get_int(const std::string& name, int64_t fallback, int64_t lo, int64_t hi) const;
  double get_double(const std::string& name, double fallback, double lo, double hi) const;
  // --name v1,v2,...: each a number in [lo, hi]; empty when the option is absent.
  std::vector<double> get_doubles(const std::string& name, double lo, double hi) const;
  bool flag(const std::string& name) const { return has(name); }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

// "a,b,,c" -> {"a", "b", "c"}: list-valued options (--style a.jpg,b.jpg).
std::vector<std::string> split_list(const std::string& value);

// --threads N (1..256) if given, else STYLENET_THREADS, else all cores: one control for every
// command (tensor/cpu/parallel.h).
void apply_threads(const Args& args);

// --device cpu|cuda|cuda:N (default cpu), checked to exist here and now.
Device device_option(const Args& args);

// --smooth R and --no-color-match (stylize and eval): the finishing of the feed-forward methods.
FinishOptions finish_options(const Args& args);
// Their help lines, for a command whose option column is 21 characters wide.
std::string finish_help();

// Checks, before any work starts, that an output file can be written where asked: its folder
// exists and its extension is one of `extensions` (lower case, with the dot; empty = any). Long
// runs must not fail only at the end because of a typo in --out.
void check_output_path(const std::string& path, const std::set<std::string>& extensions);

}  // namespace sn::cli
