#include "weights/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <optional>
#include <vector>

#include "weights/binary_util.h"
#include "tensor/cpu/pointwise.h"
#include "tensor/half.h"
#include "weights/json.h"
#include "weights/mapped_file.h"

namespace sn {

// The format is little-endian; we copy raw bytes, so we must be too.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {

enum class FileDType { F64, F32, F16, BF16 };

struct FileDTypeInfo {
  FileDType dtype;
  const char* name;
  uint64_t size;
};
constexpr FileDTypeInfo kFileDTypes[] = {
    {FileDType::F64, "F64", 8}, {FileDType::F32, "F32", 4}, {FileDType::F16, "F16", 2}, {FileDType::BF16, "BF16", 2}};

const FileDTypeInfo& info(FileDType d) { return kFileDTypes[static_cast<int>(d)]; }

std::optional<FileDType> parse_file_dtype(std::string_view name) {
  for (const auto& i : kFileDTypes)
    if (name == i.name) return i.dtype;
  return std::nullopt;
}

FileDType file_dtype_for(const Tensor& t, StoredDType stored) {
  switch (stored) {
    case StoredDType::F16: return FileDType::F16;
    case StoredDType::BF16: return FileDType::BF16;
    case StoredDType::Native: break;
  }
  return t.dtype() == DType::Float64 ? FileDType::F64 : FileDType::F32;
}

// "[3,4]": compact, as the reference writer (serde_json) prints it.
std::string json_shape(const Shape& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out.append(i ? "," : "").append(std::to_string(shape[i]));
  return out + "]";
}

void put_u64_le(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

// The tensor's values in the file's representation.
void write_tensor_bytes(ByteSink& sink, const Tensor& tensor, FileDType fd) {
  const Tensor t = tensor.to(Device{}).contiguous();  // a model on a GPU saves the same bytes
  if (fd == FileDType::F64 || fd == FileDType::F32) {  // same as in memory
    if (t.numel() > 0) sink.write(t.raw_data(), static_cast<size_t>(t.numel()) * dtype_size(t.dtype()));
    return;
  }
  std::vector<uint16_t> bits(static_cast<size_t>(t.numel()));
  dispatch(t.dtype(), [&]<class T>() {
    const T* p = t.data<T>();
    for (size_t i = 0; i < bits.size(); ++i) {
      const auto f = static_cast<float>(p[i]);
      bits[i] = fd == FileDType::F16 ? float_to_half_bits(f) : float_to_bf16_bits(f);
    }
  });
  if (!bits.empty()) sink.write(bits.data(), bits.size() * sizeof(uint16_t));
}

struct Entry {
  std::string name;
  FileDType dtype;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

// Reads one entry of a header we do not trust; `fail` throws.
class HeaderChecker {
 public:
  HeaderChecker(std::string_view source, uint64_t data_size) : source_(source), data_size_(data_size) {}

  template <class... Args>
  [[noreturn]] void fail(const Args&... args) const {
    throw Error(detail::cat("safetensors: ", source_, ": ", args...));
  }

  Metadata metadata(const json::Value& v) const {
    if (!v.is(json::Value::Kind::Object)) fail("__metadata__ must be an object, got ", json::kind_name(v.kind));
    Metadata m;
    for (size_t i = 0; i < v.keys.size(); ++i) {
      if (!v.items[i].is(json::Value::Kind::String))
        fail("__metadata__ value for ", json::quote(v.keys[i]), " must be a string, got ",
             json::kind_name(v.items[i].kind));
      m.emplace(v.keys[i], v.items[i].text);
    }
    return m;
  }

  Entry entry(const std::string& name, const json::Value& v) const {
    const std::string what = "tensor " + json::quote(name);
    if (!v.is(json::Value::Kind::Object)) fail(what, ": expected an object, got ", json::kind_name(v.kind));
    for (const auto& k : v.keys)
      if (k != "dtype" && k != "shape" && k != "data_offsets") fail(what, ": unexpected field ", json::quote(k));
    const json::Value* dtype = v.find("dtype");
    const json::Value* shape = v.find("shape");
    const json::Value* offsets = v.find("data_offsets");
    if (!dtype || !shape || !offsets) fail(what, ": needs \"dtype\", \"shape\" and \"data_offsets\"");

    Entry e;
    e.name = name;
    if (!dtype->is(json::Value::Kind::String)) fail(what, ": dtype must be a string");
    const auto fd = parse_file_dtype(dtype->text);
    if (!fd) fail(what, ": unsupported dtype ", json::quote(dtype->text), " (supported: F32, F64, F16, BF16)");
    e.dtype = *fd;

    if (!shape->is(json::Value::Kind::Array)) fail(what, ": shape must be an array");
    for (const auto& d : shape->items) {
      const int64_t n = int_field(d, what + " shape");
      if (n < 0) fail(what, ": negative dimension in shape");
      e.shape.push_back(n);
    }
    if (!offsets->is(json::Value::Kind::Array) || offsets->items.size() != 2)
      fail(what, ": data_offsets must be an array [begin, end]");
    const int64_t b = int_field(offsets->items[0], what + " data_offsets");
    const int64_t en = int_field(offsets->items[1], what + " data_offsets");
    if (b < 0 || en < b) fail(what, ": invalid data_offsets [", b, ", ", en, "]");
    e.begin = static_cast<uint64_t>(b);
    e.end = static_cast<uint64_t>(en);
    if (e.end > data_size_)
      fail(what, ": data_offsets [", b, ", ", en, "] run past the end of the data (", data_size_, " bytes)");

    const auto nbytes = checked_nbytes(e.shape, info(e.dtype).size);
    if (!nbytes) fail(what, ": shape ", shape_str(e.shape), " is too large");
    if (*nbytes != e.end - e.begin)
      fail(what, ": data_offsets [", b, ", ", en, "] span ", e.end - e.begin, " bytes but ",
           info(e.dtype).name, " ", shape_str(e.shape), " needs ", *nbytes);
    return e;
  }

 private:
  std::string_view source_;
  uint64_t data_size_;

  int64_t int_field(const json::Value& v, const std::string& what) const {
    try {
      return v.as_int64(what);
    } catch (const Error& err) {
      fail(err.what());
    }
  }
};

// From a mapped file, aligned F32/F64 data is the tensor itself (weights/mapped_file.h); other
// data is copied (F16/BF16 widened).
Tensor tensor_from_bytes(const Entry& e, const char* data, const std::shared_ptr<const MappedFile>& file) {
  const bool wide = e.dtype == FileDType::F64;
  const DType dtype = wide ? DType::Float64 : DType::Float32;
  if (file && (wide || e.dtype == FileDType::F32))
    if (Tensor mapped = mapped_tensor(file, data, e.shape, dtype); mapped.defined()) return mapped;
  Tensor t = Tensor::empty(e.shape, dtype);
  const size_t n = static_cast<size_t>(t.numel());
  if (e.dtype == FileDType::F64 || e.dtype == FileDType::F32) {
    if (n > 0) std::memcpy(t.raw_data(), data, e.end - e.begin);
    return t;
  }
  cpu::widen_half_f32(e.dtype == FileDType::F16 ? HalfFormat::F16 : HalfFormat::BF16, data, t.data<float>(),
                      static_cast<int64_t>(n));
  return t;
}

}  // namespace

void write_safetensors(ByteSink& sink, const TensorDict& tensors, const Metadata& metadata, StoredDType stored) {
  // Widest dtypes first, then by name (the reference writer's order): keeps every tensor aligned
  // to its element size once the data section starts 8-aligned.
  std::vector<const TensorDict::Item*> order;
  for (const auto& item : tensors) {
    SN_CHECK(item.first != "__metadata__" && !item.first.empty(), "safetensors: invalid tensor name '",
             item.first, "'");
    SN_CHECK(item.second.defined(), "safetensors: tensor '", item.first, "' is undefined");
    order.push_back(&item);
  }
  auto size_of = [&](const TensorDict::Item* i) { return info(file_dtype_for(i->second, stored)).size; };
  std::sort(order.begin(), order.end(), [&](auto* a, auto* b) {
    return size_of(a) != size_of(b) ? size_of(a) > size_of(b) : a->first < b->first;
  });

  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    for (const auto& [k, v] : metadata) {
      if (header.back() != '{') header += ',';
      header.append(json::quote(k)).append(":").append(json::quote(v));
    }
    header += "}";
  }
  uint64_t offset = 0;
  for (const auto* item : order) {
    const FileDType fd = file_dtype_for(item->second, stored);
    const uint64_t nbytes = static_cast<uint64_t>(item->second.numel()) * info(fd).size;
    if (header.size() > 1) header += ",";
    header += json::quote(item->first) + ":{\"dtype\":\"" + info(fd).name + "\",\"shape\":" +
              json_shape(item->second.shape()) + ",\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + nbytes) + "]}";
    offset += nbytes;
  }
  header += "}";
  header.append((8 - (header.size() % 8)) % 8, ' ');  // the spec's padding: data starts 8-aligned

  std::string prefix;
  put_u64_le(prefix, header.size());
  sink.write(prefix);
  sink.write(header);
  for (const auto* item : order) write_tensor_bytes(sink, item->second, file_dtype_for(item->second, stored));
}

std::string encode_safetensors(const TensorDict& tensors, const Metadata& metadata, StoredDType stored) {
  StringSink sink;
  write_safetensors(sink, tensors, metadata, stored);
  return std::move(sink.bytes);
}

namespace {

SafetensorsContents decode(std::string_view bytes, std::string_view source, const TensorSelect& select,
                           const std::shared_ptr<const MappedFile>& file) {
  HeaderChecker pre(source, 0);
  if (bytes.size() < 8) pre.fail("file of ", bytes.size(), " bytes is too short to hold the 8-byte header length");
  const uint64_t header_len = read_le(bytes, 0, 8);
  if (header_len > kMaxSafetensorsHeader)
    pre.fail("header length ", header_len, " exceeds the limit of ", kMaxSafetensorsHeader, " bytes");
  if (header_len > bytes.size() - 8)
    pre.fail("header length ", header_len, " runs past the end of the file (", bytes.size(), " bytes)");

  const std::string_view data = bytes.substr(8 + header_len);
  const HeaderChecker check(source, data.size());
  const json::Value header = json::parse(bytes.substr(8, header_len), detail::cat("safetensors: ", source, ": header"));
  if (!header.is(json::Value::Kind::Object)) check.fail("header must be a JSON object");

  SafetensorsContents out;
  std::vector<Entry> entries;
  for (size_t i = 0; i < header.keys.size(); ++i) {
    if (header.keys[i] == "__metadata__") out.metadata = check.metadata(header.items[i]);
    else entries.push_back(check.entry(header.keys[i], header.items[i]));
  }

  // The data section must be tiled exactly: no overlaps (aliasing), no gaps, nothing left over.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  for (const Entry& e : entries) {
    if (e.begin < covered) check.fail("tensor ", json::quote(e.name), " overlaps the previous tensor's data");
    if (e.begin > covered) check.fail("gap in the data section before tensor ", json::quote(e.name));
    covered = e.end;
  }
  if (covered != data.size())
    check.fail("data section has ", data.size(), " bytes but the tensors account for ", covered);

  for (const Entry& e : entries) {
    if (select && !select(e.name)) continue;
    Tensor t = tensor_from_bytes(e, data.data() + e.begin, file);
    // Pages copied from are handed back (not those the tensor is: they are its memory).
    if (file && t.raw_data() != data.data() + e.begin)
      file->release(static_cast<size_t>(data.data() + e.begin - bytes.data()), e.end - e.begin);
    out.tensors.insert(e.name, std::move(t));
  }
  return out;
}

}  // namespace

SafetensorsContents decode_safetensors(std::string_view bytes, std::string_view source, const TensorSelect& select) {
  return decode(bytes, source, select, nullptr);
}

void save_safetensors(const std::filesystem::path& path, const TensorDict& tensors, const Metadata& metadata,
                      StoredDType stored) {
  write_file_atomic(path, [&](ByteSink& sink) { write_safetensors(sink, tensors, metadata, stored); });
}

SafetensorsContents load_safetensors(const std::filesystem::path& path, const TensorSelect& select) {
  return load_safetensors(std::make_shared<const MappedFile>(path), select);
}

SafetensorsContents load_safetensors(const std::shared_ptr<const MappedFile>& file, const TensorSelect& select) {
  return decode(file->bytes(), file->path().string(), select, file);
}

}  // namespace sn
