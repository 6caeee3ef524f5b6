// Device discovery, errors, the current device and the cuBLAS handles.
#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "tensor/cuda/common.cuh"

#define SN_STRINGIFY_(x) #x
#define SN_STRINGIFY(x) SN_STRINGIFY_(x)

namespace sn::cuda {

namespace {

// Probed once: no driver, a driver too old for this runtime, or no GPU all count as zero devices.
struct Probe {
  int count = 0;
  std::string problem;
};

const Probe& probe() {
  static const Probe p = [] {
    Probe r;
    const cudaError_t e = cudaGetDeviceCount(&r.count);
    if (e != cudaSuccess) {
      r.count = 0;
      r.problem = cudaGetErrorString(e);
      cudaGetLastError();  // clear the sticky error so later calls report their own
    } else if (r.count == 0) {
      r.problem = "no CUDA device found";
    }
    return r;
  }();
  return p;
}

bool tf32_from_env() {
  const char* v = std::getenv("STYLENET_TF32");
  return v && std::string(v) == "1";
}

std::mutex handles_mutex;
std::vector<cublasHandle_t> handles;  // per device index, created on first use
bool tf32_on = tf32_from_env();

}  // namespace

void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line) {
  throw Error(detail::cat("CUDA error: ", cudaGetErrorString(e), " (", call, " at ", file, ":", line, ")"));
}

void throw_cublas_error(cublasStatus_t s, const char* call, const char* file, int line) {
  throw Error(detail::cat("cuBLAS error: ", cublas_api().status_string(s), " (", call, " at ", file, ":", line, ")"));
}

const CublasApi& cublas_api() {
  static const CublasApi api = [] {
    void* lib = dlopen("libcublas.so." SN_STRINGIFY(CUBLAS_VER_MAJOR), RTLD_NOW | RTLD_LOCAL);
    if (!lib) lib = dlopen("libcublas.so", RTLD_NOW | RTLD_LOCAL);
    SN_CHECK(lib, "cuBLAS could not be loaded (", dlerror(), "); the CUDA backend needs the toolkit's libcublas");
    const auto sym = [&](const char* name) {
      void* p = dlsym(lib, name);
      SN_CHECK(p, "cuBLAS has no symbol ", name);
      return p;
    };
    CublasApi a;
    a.create = reinterpret_cast<decltype(a.create)>(sym("cublasCreate_v2"));
    a.set_math_mode = reinterpret_cast<decltype(a.set_math_mode)>(sym("cublasSetMathMode"));
    a.status_string = reinterpret_cast<decltype(a.status_string)>(sym("cublasGetStatusString"));
    a.sgemm_strided_batched = reinterpret_cast<decltype(a.sgemm_strided_batched)>(sym("cublasSgemmStridedBatched"));
    a.dgemm_strided_batched = reinterpret_cast<decltype(a.dgemm_strided_batched)>(sym("cublasDgemmStridedBatched"));
    return a;
  }();
  return api;
}

bool compiled() { return true; }
int device_count() { return probe().count; }
std::string device_problem() { return probe().problem; }

std::string device_name(int index) {
  require(Device{DeviceType::CUDA, index});
  cudaDeviceProp prop{};
  SN_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  return prop.name;
}

void require(Device device) {
  if (device.type != DeviceType::CUDA) return;
  const int n = device_count();
  SN_CHECK(n > 0, "device ", device.str(), " was asked for, but CUDA has no usable device here (",
           device_problem(), "); use --device cpu");
  SN_CHECK(device.index >= 0 && device.index < n, "device ", device.str(), " does not exist: this machine has ",
           n, " CUDA device", n == 1 ? "" : "s", " (cuda:0", n > 1 ? detail::cat(" .. cuda:", n - 1) : "", ")");
}

void use_device(Device device) {
  thread_local int current = -1;
  if (device.index == current) return;
  require(device);
  SN_CUDA_CHECK(cudaSetDevice(device.index));
  current = device.index;
}

cublasHandle_t cublas(Device device) {
  use_device(device);
  std::lock_guard<std::mutex> lock(handles_mutex);
  if (handles.size() <= static_cast<size_t>(device.index)) handles.resize(device.index + 1, nullptr);
  cublasHandle_t& h = handles[device.index];
  if (!h) SN_CUBLAS_CHECK(cublas_api().create(&h));
  // True float32 unless TF32 was asked for; CUBLAS_PEDANTIC_MATH would also forbid split-K
  // reductions in other precisions, which fp32 GEMMs do not use.
  SN_CUBLAS_CHECK(cublas_api().set_math_mode(h, tf32_on ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  return h;
}

void set_tf32(bool on) { tf32_on = on; }
bool tf32() { return tf32_on; }

void synchronize(Device device) {
  if (device.type != DeviceType::CUDA) return;
  use_device(device);
  SN_CUDA_CHECK(cudaDeviceSynchronize());
}

Shape broadcast_strides_to(const Tensor& t, const Shape& shape) {
  return broadcast_strides(t.shape(), t.strides(), shape);
}

}  // namespace sn::cuda
