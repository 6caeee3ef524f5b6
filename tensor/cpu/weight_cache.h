// Convolution weights as the fast kernels use them, kept between calls.
//
// The weights of a frozen encoder, or of any model during inference or evaluation, are the same on
// every call, yet each call transformed them for Winograd (U = G g G^T, four times their size) and
// packed them into the GEMM's micro-panel layout: 23 % of a warm VGG16 forward pass at 224x224 on
// one thread (perf). So a kernel asks this cache for what it derives from a weight tensor, keyed by
// the tensor's storage (id, version, offset) and by what it derives (algorithm, shapes, ISA, GEMM
// backend). Every in-place write to parameters bumps the storage's version (tensor/storage.h), so
// the next call misses and derives again; freeing the storage drops its entries.
//
// An entry is kept from its second use on (a one-shot run keeps nothing), at most
// STYLENET_WEIGHT_CACHE_MB (default 256; 0 turns caching off) in all; the least recently used
// entries go first. VGG16 up to relu5_3 at 224x224 holds about 140 MB.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/cpu/gemm.h"
#include "tensor/cpu/workspace.h"

namespace sn::cpu {

// Which weights. storage 0: not cacheable (scratch memory, such as a flipped copy).
struct WeightKey {
  uint64_t storage = 0, version = 0;
  int64_t offset = 0;
  explicit operator bool() const { return storage != 0; }
};

// What a kernel derives from weights: GEMM operands (PackedA) and the memory they live in when
// they need their own (`packed_memory`, one workspace lease for all of them, so a large one gets
// huge pages; with OpenBLAS and the reference GEMM the Winograd weights are there row-major, and
// im2col's PackedA reads the weights themselves).
struct DerivedWeights {
  std::unique_ptr<WorkspaceLease> packed_memory;
  size_t packed_floats = 0;
  std::vector<PackedA> packed;
};

// The derived weights for (key, kind): the cached ones, else `make()`'s, cached when there is a
// key. `kind` names everything besides the weights that the result depends on.
std::shared_ptr<const DerivedWeights> derived_weights(const WeightKey& key, const std::string& kind,
                                                      const std::function<DerivedWeights()>& make);
// As derived_weights where the result is cached or is to be kept now (the second use on); where
// it would serve this call alone (no key, the cache off, the first use of these weights) returns
// null without calling make(), for a caller that can do without the whole derived weights at once
// (Winograd then transforms its weights a slice at a time: a one-shot run faults in a slice's
// fresh memory, not the whole transform's).
std::shared_ptr<const DerivedWeights> kept_derived_weights(const WeightKey& key, const std::string& kind,
                                                           const std::function<DerivedWeights()>& make);
// Drops every entry of a storage (called when it is freed).
void forget_cached_weights(uint64_t storage);

// STYLENET_WEIGHT_CACHE_MB in bytes; throws sn::Error for a bad value (programs check it first).
size_t weight_cache_budget();

struct WeightCacheStats {
  size_t entries = 0, bytes = 0, hits = 0, misses = 0;
};
WeightCacheStats weight_cache_stats();
void clear_weight_cache();

}  // namespace sn::cpu
