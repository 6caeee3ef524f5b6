// A `stylenet` subcommand: its name, a one-line summary for `stylenet help`, and its entry point.
// Each command lives in its own file under apps/ and is listed once in apps/commands.cpp.
#pragma once
#include <string>
#include <vector>

namespace sn::cli {

struct Command {
  const char* name;
  const char* summary;
  std::string usage;  // full help text: synopsis and every option (some are built from tables)
  int (*run)(const std::vector<std::string>& args);  // returns the exit status
};

const std::vector<Command>& commands();

}  // namespace sn::cli
