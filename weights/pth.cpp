#include "weights/pth.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "tensor/error.h"
#include "weights/binary_util.h"
#include "tensor/cpu/pointwise.h"
#include "tensor/half.h"
#include "weights/mapped_file.h"
#include "weights/pickle.h"
#include "weights/zip_reader.h"

namespace sn {

// Storages are copied byte for byte: the file is little-endian, so the host must be too.
static_assert(std::endian::native == std::endian::little, "pth loading assumes a little-endian host");

namespace {

using pickle::Object;
using Kind = pickle::Object::Kind;

// torch.<Name>Storage: what the persistent ids name, and the element size that sizes the data.
enum class Element { F32, F64, F16, BF16, Unsupported };
struct StorageType {
  const char* name;
  uint64_t element_size;
  Element element;
  const char* dtype;  // as PyTorch names it, for messages
};
constexpr StorageType kStorageTypes[] = {
    {"FloatStorage", 4, Element::F32, "float32"},      {"DoubleStorage", 8, Element::F64, "float64"},
    {"HalfStorage", 2, Element::F16, "float16"},       {"BFloat16Storage", 2, Element::BF16, "bfloat16"},
    {"LongStorage", 8, Element::Unsupported, "int64"}, {"IntStorage", 4, Element::Unsupported, "int32"},
    {"ShortStorage", 2, Element::Unsupported, "int16"}, {"CharStorage", 1, Element::Unsupported, "int8"},
    {"ByteStorage", 1, Element::Unsupported, "uint8"},  {"BoolStorage", 1, Element::Unsupported, "bool"}};

const StorageType* find_storage_type(std::string_view qualified) {
  for (const auto& t : kStorageTypes)
    if (qualified == std::string("torch.") + t.name) return &t;
  return nullptr;
}

// The 80-bit magic number the legacy format starts with, as pickle's LONG1 stores it.
constexpr std::string_view kLegacyMagic{"\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10};
constexpr std::string_view kLegacyPrefix{"\x80\x02\x8a\x0a", 4};  // PROTO 2, LONG1 of 10 bytes
constexpr int64_t kLegacyProtocolVersion = 1001;

struct StorageRecord {  // one storage in the file
  std::string key;
  const StorageType* type;
  uint64_t numel;
  std::optional<std::string_view> data;  // found after the pickle: a zip entry or the legacy tail
};
// What a persistent id names: a whole storage, or (old legacy files) a slice of one.
struct StorageView {
  size_t storage;
  uint64_t offset, numel;
};
struct TensorRecord {
  size_t view;
  int64_t offset;
  Shape shape, strides;
};

// Builds the state_dict's skeleton — storages, views and tensors as plain records — from the
// pickle, allowing exactly the globals a state_dict needs. No tensor data is touched here.
class StateDictResolver final : public pickle::Resolver {
 public:
  explicit StateDictResolver(uint64_t file_size) : file_size_(file_size) {}

  bool allow_global(std::string_view module, std::string_view name) const override {
    if (module == "collections") return name == "OrderedDict";
    if (module == "torch._utils")
      return name == "_rebuild_tensor_v2" || name == "_rebuild_tensor" || name == "_rebuild_parameter";
    return module == "torch" && find_storage_type(std::string(module) + "." + std::string(name));
  }

  Object* call(pickle::Unpickler& u, const Object& callable, const Object& args) override {
    const std::string& f = callable.text;
    if (f == "collections.OrderedDict") return ordered_dict(u, args);
    if (f == "torch._utils._rebuild_tensor_v2" || f == "torch._utils._rebuild_tensor") return rebuild_tensor(u, args);
    if (f == "torch._utils._rebuild_parameter") {  // Parameter(data, requires_grad, hooks): keep data
      if (args.items.size() < 2 || !is_tensor(*args.items[0])) u.fail("_rebuild_parameter without a tensor");
      return args.items[0];
    }
    return Resolver::call(u, callable, args);  // refuses
  }

  // OrderedDict.__setstate__: a state_dict carries `_metadata` (per-module versions); not needed.
  void build(pickle::Unpickler& u, Object& obj, const Object& state) override {
    if (!obj.is(Kind::Dict) || !state.is(Kind::Dict)) Resolver::build(u, obj, state);
  }

  // ('storage', torch.FloatStorage, key, location, numel[, view_metadata])
  Object* persistent_load(pickle::Unpickler& u, const Object& pid) override {
    const auto& p = pid.items;
    if (!pid.is(Kind::Tuple) || (p.size() != 5 && p.size() != 6) || !p[0]->is(Kind::Str) ||
        p[0]->text != "storage")
      u.fail("persistent id " + pickle::describe(pid) + " is not a storage reference");
    if (!p[1]->is(Kind::Global) || !find_storage_type(p[1]->text)) u.fail("unknown storage type " + pickle::describe(*p[1]));
    if (!p[2]->is(Kind::Str) || !p[3]->is(Kind::Str) || !p[4]->is(Kind::Int) || p[4]->integer < 0)
      u.fail("malformed storage reference");
    const StorageType* type = find_storage_type(p[1]->text);
    const auto numel = static_cast<uint64_t>(p[4]->integer);
    // Checked now, before anything is sized from it: the data must fit in the file.
    if (numel > file_size_ / type->element_size)
      u.fail(detail::cat("storage '", p[2]->text, "' claims ", numel, " elements, more than the file holds"));
    const size_t storage = storage_for(u, p[2]->text, type, numel);

    StorageView view{storage, 0, numel};
    if (p.size() == 6 && !p[5]->is(Kind::None)) {  // (view_key, offset, numel): a slice of the storage
      const auto& v = p[5]->items;
      if (!p[5]->is(Kind::Tuple) || v.size() != 3 || !v[1]->is(Kind::Int) || !v[2]->is(Kind::Int) ||
          v[1]->integer < 0 || v[2]->integer < 0 ||
          static_cast<uint64_t>(v[1]->integer) > numel ||
          static_cast<uint64_t>(v[2]->integer) > numel - static_cast<uint64_t>(v[1]->integer))
        u.fail("malformed or out-of-range storage view");
      view.offset = static_cast<uint64_t>(v[1]->integer);
      view.numel = static_cast<uint64_t>(v[2]->integer);
    }
    views.push_back(view);
    return custom(u, "storage", views.size() - 1);
  }

  std::vector<StorageRecord> storages;
  std::map<std::string, size_t> storage_by_key;
  std::vector<StorageView> views;
  std::vector<TensorRecord> tensors;

  static bool is_tensor(const Object& o) { return o.is(Kind::Custom) && o.custom_kind == "tensor"; }

 private:
  static Object* custom(pickle::Unpickler& u, const char* kind, size_t id) {
    Object* o = u.make(Kind::Custom);
    o->custom_kind = kind;
    o->custom_id = static_cast<int64_t>(id);
    return o;
  }

  size_t storage_for(pickle::Unpickler& u, const std::string& key, const StorageType* type, uint64_t numel) {
    auto it = storage_by_key.find(key);
    if (it == storage_by_key.end()) {
      storages.push_back({key, type, numel, std::nullopt});
      return storage_by_key[key] = storages.size() - 1;
    }
    const StorageRecord& s = storages[it->second];
    if (s.type != type || s.numel != numel) u.fail("storage '" + key + "' is described two different ways");
    return it->second;
  }

  // OrderedDict() in Python 3; OrderedDict([[k, v], ...]) as Python 2 pickled it.
  Object* ordered_dict(pickle::Unpickler& u, const Object& args) {
    Object* dict = u.make(Kind::Dict);
    if (args.items.empty()) return dict;
    if (args.items.size() != 1 || !args.items[0]->is(Kind::List)) u.fail("OrderedDict with unexpected arguments");
    for (const Object* pair : args.items[0]->items) {
      if (!(pair->is(Kind::List) || pair->is(Kind::Tuple)) || pair->items.size() != 2)
        u.fail("OrderedDict item that is not a pair");
      dict->items.push_back(pair->items[0]);
      dict->items.push_back(pair->items[1]);
    }
    return dict;
  }

  static std::optional<Shape> int_tuple(const Object& o) {
    if (!o.is(Kind::Tuple) && !o.is(Kind::List)) return std::nullopt;
    Shape s;
    for (const Object* d : o.items) {
      if (!d->is(Kind::Int) || d->integer < 0) return std::nullopt;
      s.push_back(d->integer);
    }
    return s;
  }

  // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) and the
  // older _rebuild_tensor(storage, offset, size, stride). The view must stay inside the storage.
  Object* rebuild_tensor(pickle::Unpickler& u, const Object& args) {
    const auto& a = args.items;
    if (a.size() < 4 || a.size() > 7 || !a[0]->is(Kind::Custom) || a[0]->custom_kind != "storage" ||
        !a[1]->is(Kind::Int) || a[1]->integer < 0)
      u.fail("_rebuild_tensor with unexpected arguments");
    const auto shape = int_tuple(*a[2]), strides = int_tuple(*a[3]);
    if (!shape || !strides || shape->size() != strides->size()) u.fail("tensor with a malformed size or stride");
    const StorageView& view = views[static_cast<size_t>(a[0]->custom_id)];
    if (!checked_nbytes(*shape, 1)) u.fail("tensor of shape " + shape_str(*shape) + " is too large");
    // The largest element index the tensor reaches, overflow-checked.
    uint64_t last = static_cast<uint64_t>(a[1]->integer);
    bool empty = false, overflow = false;
    for (size_t d = 0; d < shape->size(); ++d) {
      if ((*shape)[d] == 0) empty = true;
      uint64_t step = 0;
      overflow |= __builtin_mul_overflow(static_cast<uint64_t>(std::max<int64_t>((*shape)[d] - 1, 0)),
                                         static_cast<uint64_t>((*strides)[d]), &step);
      overflow |= __builtin_add_overflow(last, step, &last);
    }
    if (overflow || (!empty && last >= view.numel))
      u.fail(detail::cat("tensor of shape ", shape_str(*shape), " at offset ", a[1]->integer,
                         " reaches past the end of its storage (", view.numel, " elements)"));
    tensors.push_back({static_cast<size_t>(a[0]->custom_id), a[1]->integer, *shape, *strides});
    return custom(u, "tensor", tensors.size() - 1);
  }

  uint64_t file_size_;
};

// Legacy: magic, protocol version, system info, state_dict, storage keys; then the storages.
// Returns the state_dict and sets each storage's data.
const Object& parse_legacy(std::string_view bytes, const std::string& source, StateDictResolver& resolver,
                  pickle::Unpickler& u) {
  pickle::Resolver nothing;  // the header pickles may reference no globals at all
  pickle::Unpickler header(source, nothing);
  const Object& magic = header.load(bytes, 0);
  if (!magic.is(Kind::BigInt) || magic.text != kLegacyMagic) throw Error(source + ": not a PyTorch file (wrong magic number)");
  const Object& version = header.load(bytes, header.end());
  if (!version.is(Kind::Int) || version.integer != kLegacyProtocolVersion)
    throw Error(detail::cat(source, ": unsupported legacy format version ", pickle::describe(version)));
  const Object& sys_info = header.load(bytes, header.end());
  const Object* little = sys_info.get("little_endian");
  if (!little || !little->is(Kind::Bool) || !little->boolean)
    throw Error(source + ": written on a big-endian machine (or system info missing); not supported");
  const Object& state_dict = u.load(bytes, header.end());

  const Object& keys = header.load(bytes, u.end());
  if (!keys.is(Kind::List)) throw Error(source + ": legacy storage key list is missing");
  uint64_t pos = header.end();
  for (const Object* key : keys.items) {
    auto it = key->is(Kind::Str) ? resolver.storage_by_key.find(key->text) : resolver.storage_by_key.end();
    if (it == resolver.storage_by_key.end())
      throw Error(source + ": storage " + pickle::describe(*key) + " is listed but never used");
    StorageRecord& s = resolver.storages[it->second];
    if (s.data) throw Error(source + ": storage '" + s.key + "' is listed twice");
    if (bytes.size() - pos < 8) throw Error(detail::cat(source, ": truncated at storage '", s.key, "'"));
    const uint64_t count = read_le(bytes, pos, 8);
    if (count != s.numel)
      throw Error(detail::cat(source, ": storage '", s.key, "' holds ", count, " elements, not ", s.numel));
    const uint64_t nbytes = count * s.type->element_size;  // cannot overflow: numel was checked
    if (bytes.size() - pos - 8 < nbytes)
      throw Error(detail::cat(source, ": storage '", s.key, "' runs past the end of the file (truncated?)"));
    s.data = bytes.substr(pos + 8, nbytes);
    pos += 8 + nbytes;
  }
  // A storage the pickle uses but the key list leaves out has no data: refused here, before
  // anything reads it.
  for (const StorageRecord& s : resolver.storages)
    if (!s.data) throw Error(source + ": storage '" + s.key + "' is used but not in the storage list");
  return state_dict;
}

// Zip: <name>/data.pkl, <name>/byteorder (newer files), <name>/data/<key>.
const Object& parse_zip(const std::string& source, StateDictResolver& resolver, pickle::Unpickler& u,
               const ZipReader& zip) {
  std::string prefix;
  for (const auto& e : zip.entries()) {
    const size_t slash = e.name.find('/');
    if (slash == std::string::npos || e.name.compare(slash, std::string::npos, "/data.pkl") != 0) continue;
    if (!prefix.empty()) throw Error(source + ": more than one data.pkl in the archive");
    prefix = e.name.substr(0, slash + 1);
  }
  if (prefix.empty()) throw Error(source + ": zip archive without <name>/data.pkl: not a torch.save file");
  if (const auto* order = zip.find(prefix + "byteorder"); order && zip.data(*order) != "little")
    throw Error(source + ": written with big-endian byte order; not supported");
  const Object& state_dict = u.load(zip.data(*zip.find(prefix + "data.pkl")));
  for (StorageRecord& s : resolver.storages) {
    const auto* entry = zip.find(prefix + "data/" + s.key);
    if (!entry) throw Error(source + ": storage '" + s.key + "' has no data entry in the archive");
    if (entry->size != s.numel * s.type->element_size)
      throw Error(detail::cat(source, ": storage '", s.key, "' has ", entry->size, " bytes, expected ",
                              s.numel * s.type->element_size));
    s.data = zip.data(*entry);
  }
  return state_dict;
}

// The storage's elements as an sn tensor of the matching float dtype (half widths widen to
// float32). From a mapped file, aligned float32/float64 storages are the file's pages themselves
// (weights/mapped_file.h); others are copied in slices, each slice's file pages handed back as
// soon as it is copied, so a 400 MB storage never sits in memory twice.
Tensor storage_tensor(const StorageRecord& s, std::string_view file_bytes, const std::shared_ptr<const MappedFile>& file) {
  constexpr uint64_t kSliceElements = 1 << 22;
  const bool f64 = s.type->element == Element::F64;
  const DType dtype = f64 ? DType::Float64 : DType::Float32;
  const std::string_view data = *s.data;
  const Shape shape{static_cast<int64_t>(s.numel)};
  if (file && (s.type->element == Element::F32 || f64))
    if (Tensor mapped = mapped_tensor(file, data.data(), shape, dtype); mapped.defined()) return mapped;
  Tensor t = Tensor::empty(shape, dtype);
  char* out = static_cast<char*>(t.raw_data());
  for (uint64_t begin = 0; begin < s.numel; begin += kSliceElements) {
    const uint64_t end = std::min(s.numel, begin + kSliceElements), esize = s.type->element_size;
    const char* in = data.data() + begin * esize;
    if (s.type->element == Element::F32 || f64) {
      std::memcpy(out + begin * esize, in, (end - begin) * esize);
    } else {
      cpu::widen_half_f32(s.type->element == Element::F16 ? HalfFormat::F16 : HalfFormat::BF16, in,
                          reinterpret_cast<float*>(out) + begin, static_cast<int64_t>(end - begin));
    }
    if (file) file->release(static_cast<size_t>(in - file_bytes.data()), (end - begin) * esize);
  }
  return t;
}

PthContents decode(std::string_view bytes, const std::string& source, const PthOptions& options,
                   const std::shared_ptr<const MappedFile>& file) {
  StateDictResolver resolver(bytes.size());
  pickle::Unpickler u(source, resolver);
  PthContents out;
  const Object* root = nullptr;
  if (looks_like_zip(bytes)) {
    const ZipReader zip(bytes, source);
    root = &parse_zip(source, resolver, u, zip);
    out.container = "zip";
  } else if (bytes.substr(0, kLegacyPrefix.size()) == kLegacyPrefix) {
    root = &parse_legacy(bytes, source, resolver, u);
    out.container = "legacy";
  } else {
    throw Error(source + ": not a PyTorch weight file (neither a zip archive nor the legacy format)");
  }
  if (!root->is(Kind::Dict)) throw Error(source + ": holds a " + pickle::describe(*root) + ", not a state_dict");

  // Every entry is checked; only the selected ones are built. One sn tensor per file storage, so
  // tensors that shared a storage in PyTorch share it here.
  std::map<size_t, Tensor> built;
  std::set<std::string> seen;
  for (size_t i = 0; i + 1 < root->items.size(); i += 2) {
    const Object& key = *root->items[i];
    const Object& value = *root->items[i + 1];
    if (!key.is(Kind::Str)) throw Error(source + ": state_dict key " + pickle::describe(key) + " is not a string");
    if (!StateDictResolver::is_tensor(value))
      throw Error(source + ": state_dict entry '" + key.text + "' is a " + pickle::describe(value) + ", not a tensor");
    if (!seen.insert(key.text).second) throw Error(source + ": state_dict key '" + key.text + "' appears twice");
    if (options.select && !options.select(key.text)) continue;

    const TensorRecord& t = resolver.tensors[static_cast<size_t>(value.custom_id)];
    const StorageView& view = resolver.views[t.view];
    const StorageRecord& s = resolver.storages[view.storage];
    if (s.type->element == Element::Unsupported)
      throw Error(detail::cat(source, ": tensor '", key.text, "' is ", s.type->dtype,
                              "; only floating-point tensors can be loaded"));
    auto [it, fresh] = built.try_emplace(view.storage);
    if (fresh) it->second = storage_tensor(s, bytes, file);
    out.tensors.insert(key.text, it->second.as_strided(t.shape, t.strides, static_cast<int64_t>(view.offset) + t.offset));
  }
  return out;
}

}  // namespace

bool looks_like_pth(std::string_view bytes) {
  return looks_like_zip(bytes) || bytes.substr(0, kLegacyPrefix.size()) == kLegacyPrefix;
}

PthContents decode_pth(std::string_view bytes, std::string_view source, const PthOptions& options) {
  return decode(bytes, std::string(source), options, nullptr);
}

PthContents load_pth(const std::filesystem::path& path, const PthOptions& options) {
  return load_pth(std::make_shared<const MappedFile>(path), options);
}

PthContents load_pth(const std::shared_ptr<const MappedFile>& file, const PthOptions& options) {
  return decode(file->bytes(), file->path().string(), options, file);
}

}  // namespace sn
