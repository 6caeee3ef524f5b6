#include "tensor/cpu/weight_cache.h"

#include <list>
#include <mutex>
#include <unordered_map>

#include "tensor/env.h"

namespace sn::cpu {

namespace {

size_t bytes_of(const DerivedWeights& d) {
  size_t bytes = (d.packed_memory ? d.packed_floats : 0) * sizeof(float);
  for (const PackedA& p : d.packed) bytes += p.packed_bytes();
  return bytes;
}

class WeightCache {
 public:
  // only_kept: null instead of weights made for this call alone (kept_derived_weights).
  std::shared_ptr<const DerivedWeights> get(const WeightKey& key, const std::string& kind,
                                            const std::function<DerivedWeights()>& make, bool only_kept) {
    // Read here, never in forget(), which runs in Storage's destructor, where a bad value's
    // exception would terminate the program.
    const size_t budget = weight_cache_budget();
    if (!key || budget == 0) return only_kept ? nullptr : std::make_shared<const DerivedWeights>(make());
    const std::string name = std::to_string(key.storage) + "@" + std::to_string(key.offset) + ":" + kind;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const auto it = index_.find(name);
      if (it != index_.end() && it->second->version == key.version) {
        lru_.splice(lru_.begin(), lru_, it->second);  // most recently used first
        ++hits_;
        return it->second->value;
      }
      ++misses_;
      if (only_kept && first_use(name, key)) return nullptr;
    }
    // Made outside the lock (it runs parallel kernels); two threads may both make it, the last
    // one inserted stays.
    auto value = std::make_shared<const DerivedWeights>(make());
    const size_t bytes = bytes_of(*value);
    std::lock_guard<std::mutex> lock(mu_);
    if (const auto it = index_.find(name); it != index_.end()) erase(it->second);  // an older version
    // Kept from the second use on: a one-shot run (`features`, a small `stylize`) would pay for
    // fresh memory to hold what it never uses again (the cold VGG16 pass: +0.2 s, +150 MB).
    if (first_use(name, key)) return value;
    seen_.erase(name);
    if (bytes > budget) return value;
    lru_.push_front({name, key.storage, key.version, value, bytes});
    index_[name] = lru_.begin();
    bytes_ += bytes;
    while (bytes_ > budget) erase(std::prev(lru_.end()));
    return value;
  }

  void forget(uint64_t storage) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = lru_.begin(); it != lru_.end();) {
      auto next = std::next(it);
      if (it->storage == storage) erase(it);
      it = next;
    }
    std::erase_if(seen_, [&](const auto& kv) { return kv.second.storage == storage; });
  }

  void clear() {
    std::lock_guard<std::mutex> lock(mu_);
    lru_.clear();
    index_.clear();
    seen_.clear();
    bytes_ = 0;
  }

  WeightCacheStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return {lru_.size(), bytes_, hits_, misses_};
  }

 private:
  struct Entry {
    std::string name;
    uint64_t storage, version;
    std::shared_ptr<const DerivedWeights> value;  // callers may still hold it after eviction
    size_t bytes;
  };
  // Whether this is the first use of these weights (this version); notes it. Under mu_.
  bool first_use(const std::string& name, const WeightKey& key) {
    const auto [seen, fresh] = seen_.try_emplace(name, Seen{key.storage, key.version});
    if (!fresh && seen->second.version == key.version) return false;
    seen->second.version = key.version;
    return true;
  }
  void erase(std::list<Entry>::iterator it) {
    bytes_ -= it->bytes;
    index_.erase(it->name);
    lru_.erase(it);
  }

  std::mutex mu_;
  std::list<Entry> lru_;
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  struct Seen {
    uint64_t storage, version;
  };
  std::unordered_map<std::string, Seen> seen_;  // made once and not kept yet
  size_t bytes_ = 0, hits_ = 0, misses_ = 0;
};

// Never destroyed: storages freed during static destruction still call forget().
WeightCache& cache() {
  static WeightCache* c = new WeightCache;
  return *c;
}

}  // namespace

size_t weight_cache_budget() {
  static const size_t bytes = static_cast<size_t>(env_integer(
                                  "STYLENET_WEIGHT_CACHE_MB", 256, 0, int64_t{1} << 30,
                                  "a size in MB (an integer >= 0; 0 turns the cache off)"))
                              << 20;
  return bytes;
}

std::shared_ptr<const DerivedWeights> derived_weights(const WeightKey& key, const std::string& kind,
                                                      const std::function<DerivedWeights()>& make) {
  return cache().get(key, kind, make, false);
}
std::shared_ptr<const DerivedWeights> kept_derived_weights(const WeightKey& key, const std::string& kind,
                                                           const std::function<DerivedWeights()>& make) {
  return cache().get(key, kind, make, true);
}
void forget_cached_weights(uint64_t storage) { cache().forget(storage); }
WeightCacheStats weight_cache_stats() { return cache().stats(); }
void clear_weight_cache() { cache().clear(); }

}  // namespace sn::cpu
