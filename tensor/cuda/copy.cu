// Memory movement: bytes between devices (through pinned staging), fill, and the strided,
// broadcasting, converting copy that Tensor::copy_from, contiguous() and to(dtype) rest on.
#include <algorithm>
#include <cstring>
#include <mutex>

#include "tensor/cuda/common.cuh"
#include "tensor/cuda/ops.h"

namespace sn::cuda {

namespace {

// One pinned host buffer, reused: cudaMemcpy from pageable memory stages through a driver buffer
// anyway, and a pinned one of our own lets the copy run at full PCIe/NVLink speed in chunks.
constexpr size_t kStagingBytes = size_t(32) << 20;
std::mutex staging_mutex;

void* staging() {
  static void* buffer = [] {
    void* p = nullptr;
    SN_CUDA_CHECK(cudaMallocHost(&p, kStagingBytes));
    return p;
  }();
  return buffer;
}

void host_to_device(void* dst, const void* src, size_t n) {
  std::lock_guard<std::mutex> lock(staging_mutex);
  char* stage = static_cast<char*>(staging());
  for (size_t done = 0; done < n; done += kStagingBytes) {
    const size_t part = std::min(kStagingBytes, n - done);
    std::memcpy(stage, static_cast<const char*>(src) + done, part);
    SN_CUDA_CHECK(cudaMemcpy(static_cast<char*>(dst) + done, stage, part, cudaMemcpyHostToDevice));
  }
}

void device_to_host(void* dst, const void* src, size_t n) {
  std::lock_guard<std::mutex> lock(staging_mutex);
  char* stage = static_cast<char*>(staging());
  for (size_t done = 0; done < n; done += kStagingBytes) {
    const size_t part = std::min(kStagingBytes, n - done);
    SN_CUDA_CHECK(cudaMemcpy(stage, static_cast<const char*>(src) + done, part, cudaMemcpyDeviceToHost));
    std::memcpy(static_cast<char*>(dst) + done, stage, part);
  }
}

template <class T>
__global__ void fill_kernel(Indexer<1> ix, int64_t n, T* p, T v) {
  SN_GRID_STRIDE_LOOP(i, n) {
    int64_t off[1];
    ix.offsets(i, off);
    p[off[0]] = v;
  }
}

template <class D, class S>
__global__ void copy_kernel(Indexer<2> ix, int64_t n, D* dst, const S* src) {
  SN_GRID_STRIDE_LOOP(i, n) {
    int64_t off[2];
    ix.offsets(i, off);
    dst[off[0]] = static_cast<D>(src[off[1]]);
  }
}

}  // namespace

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t n) {
  if (n == 0) return;
  const bool dst_gpu = dst_device.type == DeviceType::CUDA, src_gpu = src_device.type == DeviceType::CUDA;
  if (!dst_gpu && !src_gpu) {
    std::memcpy(dst, src, n);
  } else if (dst_gpu && src_gpu) {
    use_device(dst_device);
    if (dst_device == src_device) SN_CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToDevice));
    else SN_CUDA_CHECK(cudaMemcpyPeer(dst, dst_device.index, src, src_device.index, n));
  } else if (dst_gpu) {
    use_device(dst_device);
    host_to_device(dst, src, n);
  } else {
    use_device(src_device);
    device_to_host(dst, src, n);
  }
}

void fill(const Tensor& t, double value) {
  use_device(t.device());
  const int64_t n = t.numel();
  if (n == 0) return;
  const Indexer<1> ix = make_indexer<1>(t.shape(), {t.strides()});
  dispatch(t.dtype(), [&]<class T>() {
    fill_kernel<T><<<grid_for(n), kBlock>>>(ix, n, ptr<T>(t), static_cast<T>(value));
  });
  SN_CUDA_LAUNCHED();
}

void copy_(const Tensor& dst, const Tensor& src) {
  use_device(dst.device());
  const int64_t n = dst.numel();
  if (n == 0) return;
  if (dst.dtype() == src.dtype() && dst.is_contiguous() && src.is_contiguous() && src.shape() == dst.shape()) {
    SN_CUDA_CHECK(cudaMemcpy(dst.raw_data(), src.raw_data(), n * dtype_size(dst.dtype()), cudaMemcpyDeviceToDevice));
    return;
  }
  const Indexer<2> ix = make_indexer<2>(dst.shape(), {dst.strides(), broadcast_strides_to(src, dst.shape())});
  dispatch(dst.dtype(), [&]<class D>() {
    dispatch(src.dtype(), [&]<class S>() {
      copy_kernel<D, S><<<grid_for(n), kBlock>>>(ix, n, ptr<D>(dst), ptr<S>(src));
    });
  });
  SN_CUDA_LAUNCHED();
}

}  // namespace sn::cuda
