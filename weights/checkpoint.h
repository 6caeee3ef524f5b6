// A training checkpoint in one safetensors file: model weights, optimizer state, LR-schedule
// state and run metadata, written atomically so an interrupted save never loses the last good one.
//
// Tensor keys are prefixed "model.", "optim." and "sched."; the metadata holds the format tag,
// the step, the seed, and the caller's free-form strings under "info.". Everything is stored in
// its own dtype (no F16), so a resumed run continues bit-identically.
#pragma once
#include <cstdint>
#include <filesystem>

#include "weights/safetensors.h"

namespace sn {

struct Checkpoint {
  TensorDict model;       // Module::state_dict()
  TensorDict optimizer;   // Optimizer::state_dict()
  TensorDict scheduler;   // LRScheduler::state_dict(); may be empty
  int64_t step = 0;
  uint64_t seed = 0;
  Metadata info;          // free-form (e.g. "style_image", "git_commit")
  TensorDict extra;       // anything else a trainer must restore (a discriminator, its optimizer, ...)
};

void save_checkpoint(const std::filesystem::path& path, const Checkpoint& ckpt);
// Throws sn::Error for a file that is not a StyleNet checkpoint or has unknown keys.
Checkpoint load_checkpoint(const std::filesystem::path& path);
// The same from a file's bytes; `source` names it in error messages.
Checkpoint decode_checkpoint(std::string_view bytes, const std::string& source);

}  // namespace sn
