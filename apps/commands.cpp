// Every `stylenet` subcommand, in the order `stylenet help` lists them.
#include "apps/command.h"

namespace sn::cli {

extern const Command kDemoCommand;

const std::vector<Command>& commands() {
  static const std::vector<Command> all = {
      kDemoCommand,
  };
  return all;
}

}  // namespace sn::cli
