#include "training/data_parallel.h"

#include <cstring>

#include "tensor/error.h"
#include "weights/sha256.h"

namespace sn {

void broadcast_in_place(Communicator& comm, const TensorDict& tensors) {
  if (comm.size() == 1) return;
  for (const auto& [name, t] : tensors) {
    SN_CHECK(t.is_contiguous(), "broadcast: '", name, "' is not contiguous");
    comm.broadcast(t.raw_data(), static_cast<size_t>(t.numel()) * dtype_size(t.dtype()));
    t.mark_written();
  }
}

TensorDict broadcast_copy(Communicator& comm, const TensorDict& dict) {
  TensorDict out;
  for (const auto& [name, t] : dict) out.insert(name, t.contiguous().clone_data());
  broadcast_in_place(comm, out);
  return out;
}

void check_identical(Communicator& comm, const TensorDict& tensors, const std::string& what) {
  if (comm.size() == 1) return;
  Sha256 h;
  for (const auto& [name, t] : tensors) {
    h.update(name);
    const Tensor c = t.contiguous();
    h.update(c.raw_data(), static_cast<size_t>(c.numel()) * dtype_size(c.dtype()));
  }
  const auto mine = h.finish();
  auto roots = mine;
  comm.broadcast(roots.data(), roots.size());
  SN_CHECK(!comm.any(mine != roots), "train: the ranks' ", what, " differ after the broadcast from rank 0");
}

void average_gradients(Communicator& comm, const std::vector<Tensor>& params) {
  if (comm.size() == 1) return;
  size_t total = 0;
  for (const Tensor& p : params) {
    SN_CHECK(p.dtype() == DType::Float32, "average_gradients: float32 parameters only");
    total += static_cast<size_t>(p.numel());
  }
  std::vector<float> flat(total, 0.0f);  // a parameter without a gradient sends zeros: the same layout everywhere
  size_t offset = 0;
  for (const Tensor& p : params) {
    if (const Tensor g = p.grad(); g.defined()) {
      const Tensor c = g.contiguous();
      std::memcpy(flat.data() + offset, c.data<float>(), static_cast<size_t>(c.numel()) * sizeof(float));
    }
    offset += static_cast<size_t>(p.numel());
  }
  comm.allreduce_sum(flat.data(), flat.size());
  const float scale = 1.0f / static_cast<float>(comm.size());
  size_t at = 0;
  for (const Tensor& p : params) {
    // Every rank ran the same graph, so a parameter has a gradient on all ranks or on none.
    if (p.grad().defined()) {
      Tensor g = Tensor::empty(p.shape(), p.dtype());
      float* d = g.data<float>();
      for (int64_t i = 0; i < p.numel(); ++i) d[i] = flat[at + i] * scale;
      p.set_grad(g);
    }
    at += static_cast<size_t>(p.numel());
  }
}

void average_terms(Communicator& comm, std::map<std::string, double>& terms) {
  if (comm.size() == 1) return;
  std::vector<double> v;
  for (const auto& [k, x] : terms) v.push_back(x);
  comm.allreduce_sum(v.data(), v.size());
  size_t i = 0;
  for (auto& [k, x] : terms) x = v[i++] / comm.size();
}

}  // namespace sn
