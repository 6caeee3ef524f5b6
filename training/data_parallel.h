// Data parallelism over a Communicator: every rank holds a replica of the model and its
// optimizer, trains on its own slice of one global batch, and the replicas stay identical because
// every rank applies the same averaged gradients. These are the few operations that takes.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "tensor/tensor_dict.h"
#include "training/communicator.h"

namespace sn {

// Rank 0's values into every rank's tensors (contiguous), in place.
void broadcast_in_place(Communicator& comm, const TensorDict& tensors);
// Rank 0's dict, on every rank (same keys and shapes everywhere: the same code built it).
TensorDict broadcast_copy(Communicator& comm, const TensorDict& dict);
// Throws sn::Error on every rank unless `tensors` holds the same bits on every rank.
void check_identical(Communicator& comm, const TensorDict& tensors, const std::string& what);
// Each gradient replaced by its mean over ranks: one flat buffer, summed, divided by size().
void average_gradients(Communicator& comm, const std::vector<Tensor>& params);
// Each term replaced by its mean over ranks (the loss of the global batch: slices are equal).
void average_terms(Communicator& comm, std::map<std::string, double>& terms);

}  // namespace sn
