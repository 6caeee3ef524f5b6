// Every `stylenet` subcommand, in the order `stylenet help` lists them.
#include "apps/command.h"

namespace sn::cli {

extern const Command kDemoCommand;
extern const Command kStylizeCommand;
extern const Command kTrainCommand;
extern const Command kEvalCommand;
extern const Command kConvertCommand;
extern const Command kFeaturesCommand;
extern const Command kClassifyCommand;
extern const Command kFetchWeightsCommand;
extern const Command kJudgeCommand;
extern const Command kAssembleCommand;

const std::vector<Command>& commands() {
  static const std::vector<Command> all = {
      kStylizeCommand,
      kTrainCommand,
      kEvalCommand,
      kJudgeCommand,
      kAssembleCommand,
      kDemoCommand,
      kConvertCommand,
      kFeaturesCommand,
      kClassifyCommand,
      kFetchWeightsCommand,
  };
  return all;
}

}  // namespace sn::cli
