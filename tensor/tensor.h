// Tensor: a handle to an N-D strided view of a Storage.
//
// Copying a Tensor copies the handle (like torch.Tensor in Python): both names see the same data.
// Everything here is plain data and views; the differentiable ops live in autograd/ and only read
// and write the AutogradMeta fields kept on each tensor.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/shape.h"
#include "tensor/storage.h"

namespace sn {

class Generator;
namespace autograd {
struct Node;  // defined in autograd/node.h; tensor/ only keeps a pointer to it
}

struct TensorImpl;

// What reverse-mode autograd needs to know about one tensor. Plain data; autograd/ gives it meaning.
struct AutogradMeta {
  bool requires_grad = false;
  bool retains_grad = false;                  // keep .grad on a non-leaf (Tensor::retain_grad)
  std::shared_ptr<TensorImpl> grad;           // accumulated gradient (leaves, or non-leaves that retain)
  std::shared_ptr<autograd::Node> grad_fn;    // the op that produced this tensor; null for leaves
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements, from the start of storage
  Shape shape;
  Shape strides;       // in elements; 0 for broadcast (expanded) dims
  DType dtype = DType::Float32;
  AutogradMeta autograd;
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor (like an empty optional)
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories (new storage, no autograd history) ----
  static Tensor empty(const Shape& shape, DType dtype = DType::Float32, Device device = {});
  // A contiguous host tensor on memory someone else owns, without a copy (a weight file's
  // mapping): `owner` keeps `data` valid for the tensor's lifetime. `data` must be aligned to the
  // dtype's size and writable (in-place ops write to it).
  static Tensor wrap(void* data, const Shape& shape, DType dtype, std::shared_ptr<const void> owner);
  static Tensor zeros(const Shape& shape, DType dtype = DType::Float32, Device device = {});
  static Tensor ones(const Shape& shape, DType dtype = DType::Float32, Device device = {});
  static Tensor full(const Shape& shape, double value, DType dtype = DType::Float32, Device device = {});
  static Tensor scalar(double value, DType dtype = DType::Float32, Device device = {});
  static Tensor arange(int64_t n, DType dtype = DType::Float32);
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);
  static Tensor from_doubles(const std::vector<double>& values, const Shape& shape,
                             DType dtype = DType::Float32);
  // Seeded, machine-independent random numbers (see tensor/random.h), drawn on the CPU and
  // copied, so a seed gives the same numbers on every device.
  static Tensor randn(const Shape& shape, Generator& gen, DType dtype = DType::Float32, Device device = {});
  static Tensor rand(const Shape& shape, Generator& gen, double lo = 0.0, double hi = 1.0,
                     DType dtype = DType::Float32, Device device = {});

  // ---- metadata ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t size(int64_t dim) const;
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  int64_t numel() const { return sn::numel(impl().shape); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage ? impl().storage->device() : Device{}; }
  int64_t offset() const { return impl().offset; }
  bool is_contiguous() const;
  std::string str() const;  // "Tensor(float32, [2, 3])" plus values for small tensors

  // ---- data access ----
  // Host pointer to the element at index (0, ..., 0) of this view; checks that T matches dtype()
  // and that the tensor lives in host memory (code that reads a GPU tensor on the CPU gets an
  // error naming the device, not a crash).
  template <class T>
  T* data() const;
  void* raw_data() const;  // untyped, same element, on whatever device the storage lives
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  double item() const;     // the single value of a one-element tensor
  // Values in logical (row-major) order, converted to T.
  template <class T>
  std::vector<T> to_vector() const;
  // A dense copy with the same values; returns *this when already contiguous.
  Tensor contiguous() const;
  // A dense copy, always new storage; no autograd history.
  Tensor clone_data() const;
  Tensor to(DType dtype) const;  // converted copy (or *this if already that dtype); no history
  Tensor to(Device device) const;  // copy on another device (or *this if already there); no history
  // Overwrites this view's elements with src's (broadcast to this shape, converted to this dtype).
  void copy_from(const Tensor& src);
  void fill(double value);
  // Records an in-place write to this tensor's storage (copy_from and fill do it themselves):
  // every code that writes parameters through data<T>() calls it, so that nothing derived from
  // their old values (the convolution weight cache) is used again.
  void mark_written() const;

  // A view of the same storage with other sizes/strides; no autograd history (see autograd/ for
  // the differentiable views). Bounds are checked against the storage.
  Tensor as_strided(const Shape& shape, const Shape& strides, int64_t offset) const;
  // Same data, no history, requires_grad = false (torch.Tensor.detach).
  Tensor detach() const;

  // ---- autograd state (behaviour lives in autograd/) ----
  bool requires_grad() const { return impl().autograd.requires_grad; }
  // Marks a leaf as a trainable input; throws on a non-leaf (its flag comes from its inputs).
  const Tensor& set_requires_grad(bool on) const;
  Tensor grad() const;          // undefined until backward reaches this tensor
  void set_grad(const Tensor& g) const;
  bool is_leaf() const { return impl().autograd.grad_fn == nullptr; }
  const std::shared_ptr<autograd::Node>& grad_fn() const { return impl().autograd.grad_fn; }
  // Asks backward to keep .grad on this non-leaf tensor as well.
  void retain_grad() const;

  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  void copy_across_devices(const Tensor& src);
  void copy_on_cpu(const Tensor& src);
  bool copy_rows(const Tensor& src, const Shape& src_strides);  // copy_on_cpu's fast case

  std::shared_ptr<TensorImpl> impl_;
};

// Throws one line naming the op and both devices when a and b (if defined) live on different
// devices: ops never move data implicitly.
void check_same_device(const char* op, const Tensor& a, const Tensor& b);

}  // namespace sn
