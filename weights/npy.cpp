#include "weights/npy.h"

#include <bit>
#include <charconv>
#include <cstring>

#include "weights/atomic_file.h"
#include "weights/binary_util.h"

namespace sn {

static_assert(std::endian::native == std::endian::little, "npy I/O assumes a little-endian host");

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// Reads the header's Python dict literal, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// Only the forms NumPy writes are accepted: quoted keys, a quoted string, True/False, a tuple of
// non-negative integers.
class DictParser {
 public:
  DictParser(std::string_view text, std::string_view source) : s_(text), source_(source) {}

  NpyHeader parse() {
    NpyHeader h;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    while (true) {
      skip_ws();
      if (peek() == '}') { ++pos_; break; }
      const std::string key = quoted();
      expect(':');
      if (key == "descr" && !seen_descr) {
        h.descr = quoted();
        seen_descr = true;
      } else if (key == "fortran_order" && !seen_order) {
        h.fortran_order = boolean();
        seen_order = true;
      } else if (key == "shape" && !seen_shape) {
        h.shape = tuple();
        seen_shape = true;
      } else {
        fail("unexpected or repeated key '" + key + "'");
      }
      skip_ws();
      if (peek() == ',') { ++pos_; continue; }
      expect('}');
      break;
    }
    skip_ws();
    if (pos_ != s_.size()) fail("unexpected text after the header dict");
    if (!seen_descr || !seen_order || !seen_shape) fail("header needs 'descr', 'fortran_order' and 'shape'");
    return h;
  }

  template <class... Args>
  [[noreturn]] void fail(const Args&... args) const {
    throw Error(detail::cat("npy: ", source_, ": ", args...));
  }

 private:
  std::string_view s_;
  std::string_view source_;
  size_t pos_ = 0;

  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_ws() {
    while (peek() == ' ' || peek() == '\n') ++pos_;
  }
  void expect(char c) {
    skip_ws();
    if (peek() != c) fail("malformed header at byte ", pos_, ": expected '", c, "'");
    ++pos_;
  }
  std::string quoted() {
    skip_ws();
    const char q = peek();
    if (q != '\'' && q != '"') fail("malformed header at byte ", pos_, ": expected a quoted string");
    const size_t end = s_.find(q, pos_ + 1);
    if (end == std::string_view::npos) fail("unterminated string in header");
    std::string out(s_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_ws();
    for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      if (s_.substr(pos_).starts_with(word)) {
        pos_ += std::strlen(word);
        return value;
      }
    }
    fail("malformed header at byte ", pos_, ": expected True or False");
  }
  Shape tuple() {
    expect('(');
    Shape shape;
    while (true) {
      skip_ws();
      if (peek() == ')') { ++pos_; return shape; }
      int64_t n = -1;
      const auto [end, ec] = std::from_chars(s_.data() + pos_, s_.data() + s_.size(), n);
      if (ec != std::errc() || n < 0) fail("malformed shape in header at byte ", pos_);
      pos_ = static_cast<size_t>(end - s_.data());
      shape.push_back(n);
      skip_ws();
      if (peek() == ',') { ++pos_; continue; }
      expect(')');
      return shape;
    }
  }
};

}  // namespace

std::string encode_npy(const Tensor& tensor) {
  const Tensor t = tensor.to(Device{}).contiguous();
  std::string shape = "(";
  for (int64_t i = 0; i < t.dim(); ++i) shape += (i ? ", " : "") + std::to_string(t.size(i));
  shape += t.dim() == 1 ? ",)" : ")";  // Python's one-element tuple: (3,)
  std::string dict = std::string("{'descr': '") + (t.dtype() == DType::Float64 ? "<f8" : "<f4") +
                     "', 'fortran_order': False, 'shape': " + shape + ", }";
  // NumPy pads with spaces and a final newline so the data starts 64-byte aligned; version 2.0
  // only when the header does not fit the 16-bit length field of version 1.0.
  auto padding = [&](size_t prefix) { return (64 - (prefix + dict.size() + 1) % 64) % 64; };
  const bool v2 = dict.size() + 1 + padding(10) > 65535;
  dict.append(padding(v2 ? 12 : 10), ' ');
  dict += '\n';

  std::string out(kMagic);
  out += static_cast<char>(v2 ? 2 : 1);
  out += static_cast<char>(0);
  for (size_t i = 0; i < (v2 ? 4u : 2u); ++i) out += static_cast<char>((dict.size() >> (8 * i)) & 0xFF);
  out += dict;
  out.append(static_cast<const char*>(t.raw_data()), static_cast<size_t>(t.numel()) * dtype_size(t.dtype()));
  return out;
}

Tensor decode_npy(std::string_view bytes, std::string_view source) {
  DictParser err(std::string_view{}, source);
  if (bytes.size() < 10 || !bytes.starts_with(kMagic)) err.fail("not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(bytes[6]);
  if (major != 1 && major != 2) err.fail("unsupported format version ", major, ".", int(static_cast<unsigned char>(bytes[7])));
  const size_t prefix = major == 1 ? 10 : 12;
  if (bytes.size() < prefix) err.fail("truncated header");
  const uint64_t header_len = read_le(bytes, 8, major == 1 ? 2 : 4);
  if (header_len > bytes.size() - prefix) err.fail("header length ", header_len, " runs past the end of the file");

  const NpyHeader h = DictParser(bytes.substr(prefix, header_len), source).parse();
  DType dtype;
  if (h.descr == "<f4") dtype = DType::Float32;
  else if (h.descr == "<f8") dtype = DType::Float64;
  else err.fail("unsupported dtype '", h.descr, "' (only '<f4' and '<f8')");
  if (h.fortran_order) err.fail("fortran_order=True is not supported; save a C-contiguous array");

  const auto nbytes = checked_nbytes(h.shape, dtype_size(dtype));
  if (!nbytes) err.fail("shape ", shape_str(h.shape), " is too large");
  const std::string_view data = bytes.substr(prefix + header_len);
  if (data.size() != *nbytes)
    err.fail("data has ", data.size(), " bytes but shape ", shape_str(h.shape), " of ", h.descr, " needs ", *nbytes);

  Tensor t = Tensor::empty(h.shape, dtype);
  if (*nbytes > 0) std::memcpy(t.raw_data(), data.data(), *nbytes);
  return t;
}

void save_npy(const std::filesystem::path& path, const Tensor& t) { write_file_atomic(path, encode_npy(t)); }

Tensor load_npy(const std::filesystem::path& path) { return decode_npy(read_file(path), path.string()); }

}  // namespace sn
