// Hand-made PyTorch weight files for the hostile-input tests: a tiny pickle emitter and the two
// containers torch.save writes. Each hostile case is a valid file with exactly one thing wrong,
// so a refusal can only come from the check under test.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "weights/atomic_file.h"
#include "weights/zip_writer.h"

namespace sn::test {

// Emits pickle opcodes (protocol 2, as torch.save uses). Each method appends one value or opcode.
class PickleBuilder {
 public:
  PickleBuilder() { b_ = "\x80\x02"; }
  PickleBuilder& raw(const std::string& bytes) { b_ += bytes; return *this; }
  PickleBuilder& global(const std::string& module, const std::string& name) {
    b_ += 'c' + module + '\n' + name + '\n';
    return *this;
  }
  PickleBuilder& str(const std::string& s) {
    b_ += 'X';
    le(s.size(), 4);
    b_ += s;
    return *this;
  }
  // BININT for what fits in int32, else LONG1 with 8 bytes.
  PickleBuilder& integer(int64_t v) {
    if (v >= INT32_MIN && v <= INT32_MAX) {
      b_ += 'J';
      le(static_cast<uint64_t>(v), 4);
    } else {
      b_ += "\x8a\x08";
      le(static_cast<uint64_t>(v), 8);
    }
    return *this;
  }
  PickleBuilder& ints(const std::vector<int64_t>& values) {  // a tuple of ints
    mark();
    for (int64_t v : values) integer(v);
    return op('t');
  }
  PickleBuilder& mark() { return op('('); }
  PickleBuilder& op(char c) { b_ += c; return *this; }
  // OrderedDict() as torch writes it: GLOBAL, empty tuple, REDUCE.
  PickleBuilder& ordered_dict() { return global("collections", "OrderedDict").op(')').op('R'); }
  // The persistent id of a float32 storage, loaded with BINPERSID.
  PickleBuilder& storage(const std::string& key, int64_t numel, const std::string& type = "FloatStorage") {
    mark().str("storage").global("torch", type).str(key).str("cpu").integer(numel).op('t');
    return op('Q');
  }
  // _rebuild_tensor_v2(storage(key, numel), offset, shape, stride, False, OrderedDict()).
  PickleBuilder& tensor(const std::string& key, int64_t numel, int64_t offset, const std::vector<int64_t>& shape,
                        const std::vector<int64_t>& stride, const std::string& type = "FloatStorage") {
    global("torch._utils", "_rebuild_tensor_v2").mark();
    storage(key, numel, type).integer(offset).ints(shape).ints(stride).op('\x89').ordered_dict();
    return op('t').op('R');
  }
  std::string done() { return b_ + '.'; }

 private:
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b_ += static_cast<char>((v >> (8 * i)) & 0xFF);
  }
  std::string b_;
};

// A state_dict pickle {name: float32 tensor of `shape`, contiguous, in storage "0"}.
inline std::string one_tensor_pickle(const std::string& name, const std::vector<int64_t>& shape) {
  int64_t numel = 1;
  std::vector<int64_t> stride(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    stride[d] = numel;
    numel *= shape[d];
  }
  PickleBuilder p;
  p.ordered_dict().str(name).tensor("0", numel, 0, shape, stride).op('s');
  return p.done();
}

// The zip container: archive/data.pkl, then archive/data/<key> for each storage.
inline std::string zip_pth(const std::string& pickle, const std::vector<std::pair<std::string, std::string>>& storages,
                           const std::string& prefix = "archive/") {
  StringSink sink;
  ZipWriter zip(sink);
  zip.add(prefix + "data.pkl", pickle);
  for (const auto& [key, bytes] : storages) zip.add(prefix + "data/" + key, bytes);
  zip.finish();
  return sink.bytes;
}

// The legacy container: magic number, protocol version 1001, system info, the state_dict pickle,
// the list of storage keys, then each storage as an 8-byte element count and its bytes.
inline std::string legacy_pth(const std::string& pickle, const std::vector<std::pair<std::string, std::string>>& storages,
                              int64_t element_size = 4) {
  std::string out = std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
  out += PickleBuilder().integer(1001).done();
  out += PickleBuilder().op('}').mark().str("protocol_version").integer(1001).str("little_endian").op('\x88').op('u').done();
  out += pickle;
  PickleBuilder keys;
  keys.op(']').mark();
  for (const auto& s : storages) keys.str(s.first);
  out += keys.op('e').done();
  for (const auto& [key, bytes] : storages) {
    const uint64_t n = bytes.size() / static_cast<uint64_t>(element_size);
    for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xFF);
    out += bytes;
  }
  return out;
}

}  // namespace sn::test
