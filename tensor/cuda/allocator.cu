// Caching device allocator. cudaMalloc and cudaFree are slow (cudaFree synchronises the device), and
// a training step frees and asks again for the same activation sizes every iteration, so freed
// blocks are kept per device in size buckets and handed out again.
//
// Buckets: requests round up to 512 bytes below 1 MiB and to 2 MiB above, so a block serves any
// request of its bucket exactly (no splitting, no fragmentation bookkeeping). All kernels run on
// each device's default stream, so a block freed by the host and reused by a later kernel is
// ordered after every kernel that used it: no events are needed.
#include <map>
#include <mutex>
#include <vector>

#include "tensor/cuda/common.cuh"

namespace sn::cuda {

namespace {

size_t bucket_size(size_t n) {
  constexpr size_t kSmall = 512, kLarge = size_t(2) << 20, kSmallLimit = size_t(1) << 20;
  if (n == 0) n = 1;
  const size_t step = n < kSmallLimit ? kSmall : kLarge;
  return (n + step - 1) / step * step;
}

double mib(size_t n) { return static_cast<double>(n) / (1 << 20); }

class CachingAllocator final : public Allocator {
 public:
  explicit CachingAllocator(int index) : device_{DeviceType::CUDA, index} {}

  void* allocate(size_t nbytes) override {
    const size_t size = bucket_size(nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    auto& list = free_[size];
    void* p = nullptr;
    if (!list.empty()) {
      p = list.back();
      list.pop_back();
      stats_.cached_bytes -= size;
    } else {
      p = fresh_block(size, nbytes);
    }
    stats_.live_bytes += size;
    stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.live_bytes);
    return p;
  }

  void deallocate(void* p, size_t nbytes) noexcept override {
    if (!p) return;
    const size_t size = bucket_size(nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    free_[size].push_back(p);
    stats_.live_bytes -= size;
    stats_.cached_bytes += size;
  }

  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_locked();
  }

  AllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  // A new block from the driver; on failure the cache goes back and the request is tried once more.
  void* fresh_block(size_t size, size_t requested) {
    use_device(device_);
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, size);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      release_locked();
      e = cudaMalloc(&p, size);
    }
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      size_t free_bytes = 0, total = 0;
      cudaMemGetInfo(&free_bytes, &total);
      throw Error(detail::cat("CUDA out of memory on ", device_.str(), ": asked for ", mib(requested),
                              " MiB; StyleNet holds ", mib(stats_.live_bytes), " MiB in use, the device has ",
                              mib(free_bytes), " MiB free of ", mib(total), " MiB"));
    }
    SN_CUDA_CHECK(e);
    ++stats_.device_mallocs;
    return p;
  }

  void release_locked() {
    use_device(device_);
    for (auto& [size, list] : free_) {
      for (void* p : list) cudaFree(p);
      stats_.cached_bytes -= size * list.size();
      list.clear();
    }
  }

  Device device_;
  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;
  AllocatorStats stats_;
};

std::mutex allocators_mutex;
// Never destroyed: storages freed during static destruction must still find their allocator.
std::vector<CachingAllocator*>& allocators() {
  static auto* v = new std::vector<CachingAllocator*>;
  return *v;
}

CachingAllocator& allocator_at(int index) {
  require(Device{DeviceType::CUDA, index});
  std::lock_guard<std::mutex> lock(allocators_mutex);
  auto& v = allocators();
  if (v.size() <= static_cast<size_t>(index)) v.resize(index + 1, nullptr);
  if (!v[index]) v[index] = new CachingAllocator(index);
  return *v[index];
}

}  // namespace

Allocator& allocator(int index) { return allocator_at(index); }
AllocatorStats allocator_stats(int index) { return allocator_at(index).stats(); }

void release_cache() {
  for (int i = 0, n = device_count(); i < n; ++i) allocator_at(i).release();
}

}  // namespace sn::cuda
