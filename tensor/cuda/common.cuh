// What every CUDA kernel file shares: error checks that name the call, the device guard, typed
// device pointers, launch sizes and the cuBLAS handle. Included by .cu files only.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "tensor/cuda/cuda.h"
#include "tensor/cuda/indexer.h"
#include "tensor/strided_loop.h"
#include "tensor/tensor.h"

namespace sn::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t s, const char* call, const char* file, int line);

#define SN_CUDA_CHECK(call)                                                         \
  do {                                                                              \
    const cudaError_t sn_err_ = (call);                                             \
    if (sn_err_ != cudaSuccess) ::sn::cuda::throw_cuda_error(sn_err_, #call, __FILE__, __LINE__); \
  } while (0)
#define SN_CUBLAS_CHECK(call)                                                       \
  do {                                                                              \
    const cublasStatus_t sn_st_ = (call);                                           \
    if (sn_st_ != CUBLAS_STATUS_SUCCESS) ::sn::cuda::throw_cublas_error(sn_st_, #call, __FILE__, __LINE__); \
  } while (0)
// After a kernel launch: reports a bad launch configuration at the launch, not at a later sync.
#define SN_CUDA_LAUNCHED() SN_CUDA_CHECK(cudaGetLastError())

// cuBLAS, opened with dlopen on first use: linking it would load ~200 MB of libcublasLt into every
// process of a CUDA build (measured: `stylenet --help` at 225 MB RSS instead of ~30), GPU or not.
struct CublasApi {
  decltype(&cublasCreate_v2) create;
  decltype(&cublasSetMathMode) set_math_mode;
  decltype(&cublasGetStatusString) status_string;
  decltype(&cublasSgemmStridedBatched) sgemm_strided_batched;
  decltype(&cublasDgemmStridedBatched) dgemm_strided_batched;
};
const CublasApi& cublas_api();

// Makes `device` current for this thread (cudaSetDevice only when it changes).
void use_device(Device device);
// The device's cuBLAS handle (created on first use), with the math mode of tf32().
cublasHandle_t cublas(Device device);

// The element at index (0, ..., 0) of t's view, on its GPU.
template <class T>
T* ptr(const Tensor& t) {
  return static_cast<T*>(t.raw_data());
}

// A fresh contiguous tensor on t's device.
inline Tensor empty_like_on(const Tensor& t, const Shape& shape) { return Tensor::empty(shape, t.dtype(), t.device()); }

// One thread per element: the grid for n elements in blocks of kBlock threads. Kernels loop with a
// grid stride, so the grid is capped and any n works.
inline constexpr int kBlock = 256;
inline unsigned grid_for(int64_t n) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535 * 8 ? 65535 * 8 : blocks));
}
#define SN_GRID_STRIDE_LOOP(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(blockDim.x) * gridDim.x)

// A fresh tensor of src's dtype and device, shape `out_shape`, written by one kernel:
// launch.operator()<T>(src, dst, n) queues it for the n outputs; empty outputs launch nothing.
template <class Launch>
Tensor launch_map(const Tensor& src, const Shape& out_shape, Launch&& launch) {
  Tensor dst = empty_like_on(src, out_shape);
  const int64_t n = dst.numel();
  if (n == 0) return dst;
  dispatch(src.dtype(), [&]<class T>() {
    launch.template operator()<T>(ptr<T>(src), ptr<T>(dst), n);
    SN_CUDA_LAUNCHED();
  });
  return dst;
}

// Strides of t seen through broadcasting to `shape` (0 on broadcast dims).
Shape broadcast_strides_to(const Tensor& t, const Shape& shape);

}  // namespace sn::cuda
