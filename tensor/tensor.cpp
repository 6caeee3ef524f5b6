#include "tensor/tensor.h"

#include <cmath>
#include <cstring>
#include <sstream>

#include "tensor/cuda/cuda.h"
#include "tensor/cuda/ops.h"
#include "tensor/random.h"
#include "tensor/strided_loop.h"
#include "tensor/cpu/isa.h"
#include "tensor/cpu/parallel.h"

namespace sn {

TensorImpl& Tensor::impl() const {
  SN_CHECK(impl_ != nullptr, "use of an undefined tensor");
  return *impl_;
}

namespace {
// A contiguous tensor of `shape` over all of `storage`.
Tensor contiguous_over(std::shared_ptr<Storage> storage, const Shape& shape, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  check_shape(shape, "empty");
  return contiguous_over(std::make_shared<Storage>(sn::numel(shape) * dtype_size(dtype), device), shape, dtype);
}

Tensor Tensor::wrap(void* data, const Shape& shape, DType dtype, std::shared_ptr<const void> owner) {
  check_shape(shape, "wrap");
  SN_CHECK(owner && reinterpret_cast<uintptr_t>(data) % dtype_size(dtype) == 0,
           "Tensor::wrap: the memory needs an owner and ", dtype_size(dtype), "-byte alignment");
  return contiguous_over(std::make_shared<Storage>(data, sn::numel(shape) * dtype_size(dtype), std::move(owner)),
                         shape, dtype);
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill(value);
  return t;
}

Tensor Tensor::scalar(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Tensor Tensor::arange(int64_t n, DType dtype) {
  Tensor t = empty({n}, dtype);
  dispatch(dtype, [&]<class T>() {
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(i);
  });
  return t;
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  check_shape(shape, "from_vector");
  SN_CHECK(static_cast<int64_t>(values.size()) == sn::numel(shape), "from_vector: ", values.size(),
           " values do not fill shape ", shape_str(shape));
  Tensor t = empty(shape, dtype_of<T>());
  if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  return t;
}
template Tensor Tensor::from_vector<float>(const std::vector<float>&, const Shape&);
template Tensor Tensor::from_vector<double>(const std::vector<double>&, const Shape&);

Tensor Tensor::from_doubles(const std::vector<double>& values, const Shape& shape, DType dtype) {
  return from_vector(values, shape).to(dtype);
}

Tensor Tensor::randn(const Shape& shape, Generator& gen, DType dtype, Device device) {
  Tensor t = empty(shape, dtype);
  dispatch(dtype, [&]<class T>() { gen.fill_normal(t.data<T>(), t.numel()); });
  return t.to(device);
}

Tensor Tensor::rand(const Shape& shape, Generator& gen, double lo, double hi, DType dtype, Device device) {
  Tensor t = empty(shape, dtype);
  dispatch(dtype, [&]<class T>() {
    T* p = t.data<T>();
    for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = static_cast<T>(gen.uniform(lo, hi));
  });
  return t.to(device);
}

int64_t Tensor::size(int64_t d) const {
  // normalize_dim accepts 0 and -1 for a 0-d tensor (as PyTorch's dim wrapping does), but a 0-d
  // tensor has no size to return: indexing its empty shape would read out of bounds.
  SN_CHECK(dim() > 0, "size: dim ", d, " is out of range for a 0-d tensor (it has no dims)");
  return shape()[normalize_dim(d, dim(), "size")];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (shape()[i] == 1) continue;
    if (strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

template <class T>
T* Tensor::data() const {
  SN_CHECK(dtype() == dtype_of<T>(), "data<", dtype_name(dtype_of<T>()), ">() on a ",
           dtype_name(dtype()), " tensor");
  SN_CHECK(device().type == DeviceType::CPU, "data<", dtype_name(dtype()), ">(): the tensor lives on ",
           device().str(), "; this code reads it on the CPU (no ", device().str(),
           " kernel for it yet): move it with .to(Device{}) first");
  return static_cast<T*>(raw_data());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;

void* Tensor::raw_data() const {
  auto* base = static_cast<char*>(impl().storage->data());
  return base ? base + impl().offset * static_cast<int64_t>(dtype_size(dtype())) : nullptr;
}

double Tensor::item() const {
  SN_CHECK(numel() == 1, "item: tensor of shape ", shape_str(shape()),
           " has ", numel(), " elements, expected exactly 1");
  if (device().type != DeviceType::CPU) return to(Device{}).item();
  return dispatch(dtype(), [&]<class T>() { return static_cast<double>(*data<T>()); });
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  if (device().type != DeviceType::CPU) return to(Device{}).to_vector<T>();
  std::vector<T> out;
  out.reserve(numel());
  dispatch(dtype(), [&]<class S>() {
    const S* p = data<S>();
    for_each_strided<1>(shape(), {strides()}, {0},
                        [&](const std::array<int64_t, 1>& o) { out.push_back(static_cast<T>(p[o[0]])); });
  });
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;

void Tensor::copy_from(const Tensor& src) {
  const Shape b = broadcast_shapes(src.shape(), shape(), "copy_from");
  SN_CHECK(b == shape(), "copy_from: cannot copy a tensor of shape ", shape_str(src.shape()),
           " into one of shape ", shape_str(shape()));
  if (src.device() != device()) {
    copy_across_devices(src);
  } else if (device().type == DeviceType::CUDA) {
#ifdef STYLENET_CUDA
    cuda::copy_(*this, src);
#endif
  } else {
    copy_on_cpu(src);
  }
  mark_written();
}

// Across devices only dense bytes move: src is expanded to this shape and converted to this dtype
// on its own device, copied as one block, then written into this view on this device.
void Tensor::copy_across_devices(const Tensor& src) {
  const Shape ss = broadcast_strides(src.shape(), src.strides(), shape());
  const Tensor dense = src.as_strided(shape(), ss, src.offset()).contiguous().to(dtype());
  Tensor landed = is_contiguous() ? *this : empty(shape(), dtype(), device());
  cuda::copy_bytes(landed.raw_data(), device(), dense.raw_data(), dense.device(), numel() * dtype_size(dtype()));
  if (!landed.same(*this)) copy_from(landed);
}

void Tensor::copy_on_cpu(const Tensor& src) {
  const Shape ss = broadcast_strides(src.shape(), src.strides(), shape());
  if (copy_rows(src, ss)) return;
  dispatch(dtype(), [&]<class D>() {
    D* d = data<D>();
    dispatch(src.dtype(), [&]<class S>() {
      const S* s = src.data<S>();
      for_each_strided<2>(shape(), {strides(), ss}, {0, 0},
                          [&](const std::array<int64_t, 2>& o) { d[o[0]] = static_cast<D>(s[o[1]]); });
    });
  });
}

// A large same-dtype copy whose innermost dim is contiguous on both sides (a window of a feature
// map made contiguous, a tile pasted into an image) goes row by row with memcpy, the rows shared
// out among the threads: element by element it was serial, 72 ms of a 1024 px `stylize`.
bool Tensor::copy_rows(const Tensor& src, const Shape& ss) {
  constexpr int64_t kMinElements = int64_t{1} << 16;
  const int64_t nd = dim(), n = numel();
  if (cpu::active_isa() == cpu::Isa::Ref || src.dtype() != dtype() || nd == 0 || n < kMinElements ||
      strides()[nd - 1] != 1 || ss[nd - 1] != 1)
    return false;
  // Views of one storage may overlap, and a destination with a zero stride repeats elements: the
  // ordered loop below defines what those copies write, threads running rows would not.
  if (impl().storage == src.impl().storage) return false;
  for (int64_t d = 0; d < nd; ++d)
    if (shape()[d] > 1 && strides()[d] == 0) return false;
  const int64_t inner = shape()[nd - 1];
  const std::vector<int64_t> to = row_offsets(shape(), strides()), from = row_offsets(shape(), ss);
  const size_t es = dtype_size(dtype()), row_bytes = static_cast<size_t>(inner) * es;
  char* d = static_cast<char*>(raw_data());
  const char* s = static_cast<const char*>(src.raw_data());
  const int64_t rows = static_cast<int64_t>(to.size());
  cpu::parallel_for(0, rows, std::max<int64_t>(1, kMinElements / 4 / std::max<int64_t>(inner, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) std::memcpy(d + to[r] * es, s + from[r] * es, row_bytes);
  });
  return true;
}

void Tensor::mark_written() const {
  if (impl().storage) impl().storage->bump_version();
}

void Tensor::fill(double value) {
  if (device().type == DeviceType::CUDA) {
#ifdef STYLENET_CUDA
    cuda::fill(*this, value);
#endif
    mark_written();
    return;
  }
  dispatch(dtype(), [&]<class T>() {
    T* p = data<T>();
    const T v = static_cast<T>(value);
    for_each_strided<1>(shape(), {strides()}, {0}, [&](const std::array<int64_t, 1>& o) { p[o[0]] = v; });
  });
  mark_written();
}

Tensor Tensor::clone_data() const {
  Tensor t = empty(shape(), dtype(), device());
  t.copy_from(*this);
  return t;
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone_data(); }

Tensor Tensor::to(DType dt) const {
  if (dt == dtype()) return *this;
  Tensor t = empty(shape(), dt, device());
  t.copy_from(*this);
  return t;
}

void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  SN_CHECK(!b.defined() || a.device() == b.device(), op, ": tensors on different devices (", a.device().str(),
           " and ", b.device().str(), "); move one with .to(device)");
}

Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  Tensor t = empty(shape(), dtype(), d);
  t.copy_from(*this);
  return t;
}

Tensor Tensor::as_strided(const Shape& shp, const Shape& str, int64_t off) const {
  SN_CHECK(shp.size() == str.size(), "as_strided: shape ", shape_str(shp), " and strides ",
           shape_str(str), " differ in length");
  check_shape(shp, "as_strided");
  // Every reachable element must lie inside the storage.
  int64_t lo = off, hi = off;
  for (size_t i = 0; i < shp.size(); ++i) {
    if (shp[i] == 0) { lo = 0; hi = -1; break; }
    const int64_t span = str[i] * (shp[i] - 1);
    (span < 0 ? lo : hi) += span;
  }
  const int64_t cap = static_cast<int64_t>(storage()->nbytes() / dtype_size(dtype()));
  SN_CHECK(hi < lo || (lo >= 0 && hi < cap), "as_strided: view of shape ", shape_str(shp),
           " with strides ", shape_str(str), " at offset ", off, " exceeds a storage of ", cap,
           " elements");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = storage();
  impl->offset = off;
  impl->shape = shp;
  impl->strides = str;
  impl->dtype = dtype();
  return Tensor(std::move(impl));
}

Tensor Tensor::detach() const { return as_strided(shape(), strides(), offset()); }

const Tensor& Tensor::set_requires_grad(bool on) const {
  SN_CHECK(is_leaf(), "set_requires_grad: only leaf tensors can change requires_grad; this tensor "
                      "was produced by an op (use detach() first)");
  impl().autograd.requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { return Tensor(impl().autograd.grad); }

void Tensor::set_grad(const Tensor& g) const {
  SN_CHECK(!g.defined() || g.shape() == shape(), "set_grad: gradient of shape ", shape_str(g.shape()),
           " does not match tensor of shape ", shape_str(shape()));
  impl().autograd.grad = g.impl_ptr();
}

void Tensor::retain_grad() const {
  SN_CHECK(requires_grad(), "retain_grad: tensor does not require grad");
  impl().autograd.retains_grad = true;
}

std::string Tensor::str() const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream os;
  os << "Tensor(" << dtype_name(dtype()) << ", " << shape_str(shape());
  if (device().type != DeviceType::CPU) os << ", " << device().str();
  if (numel() <= 16) {
    os << ", [";
    auto v = to_vector<double>();
    for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
    os << "]";
  }
  if (requires_grad()) os << ", requires_grad";
  return os.str() + ")";
}

}  // namespace sn
