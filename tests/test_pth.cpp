// PyTorch .pth reading (weights/pth.h, pickle.h, zip_reader.h): files PyTorch wrote load with
// their exact values and storage sharing, and a corpus of bad files — truncated at every offset,
// wrong magic, malicious pickles (os.system, eval), calls of unknown callables, absurd shapes and
// storage sizes, zip entries that climb out of the archive, random corruption — is refused with
// one sn::Error naming the file and the problem: no crash, no hang, no allocation beyond the
// file's size. The ctest label `hostile` marks this suite for sanitizer builds (see README).
//
// The PyTorch-written files come from tests/vgg/gen_vgg.py (ctest fixture vgg_golden).
#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <filesystem>

#include "tensor/random.h"
#include "tests/mapping_check.h"
#include "tests/temp_dir.h"
#include "tests/vgg/pth_builder.h"
#include "tests/vgg/vgg_test_util.h"
#include "weights/atomic_file.h"
#include "weights/mapped_file.h"
#include "weights/npy.h"
#include "weights/pth.h"

using namespace sn;
using namespace sn::test;
namespace fs = std::filesystem;

namespace {

// 2x3 float32 values 0..5 as raw little-endian bytes.
std::string six_floats() {
  std::string bytes(24, '\0');
  for (int i = 0; i < 6; ++i) {
    const float f = static_cast<float>(i);
    std::memcpy(&bytes[4 * i], &f, 4);
  }
  return bytes;
}

// `pickle` in both containers, with storage "0" holding `data` (no storage when empty).
std::vector<std::pair<const char*, std::string>> both(const std::string& pickle, const std::string& data = six_floats(),
                                                      int64_t element_size = 4) {
  std::vector<std::pair<std::string, std::string>> storages;
  if (!data.empty()) storages.emplace_back("0", data);
  return {{"zip", zip_pth(pickle, storages)}, {"legacy", legacy_pth(pickle, storages, element_size)}};
}

// Refused with an sn::Error whose message names the source and contains `says`.
void check_refused(const std::string& bytes, const std::string& says, const char* container = "") {
  CAPTURE(container);
  CAPTURE(says);
  try {
    decode_pth(bytes, "bad.pth");
    FAIL("accepted a bad file");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CAPTURE(msg);
    CHECK(msg.find("bad.pth") != std::string::npos);
    CHECK(msg.find(says) != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);  // one line
  }
}

}  // namespace

TEST_CASE("pth: hand-made state_dicts load from both containers") {
  for (const auto& [container, bytes] : both(one_tensor_pickle("w", {2, 3}))) {
    CAPTURE(container);
    const PthContents c = decode_pth(bytes);
    CHECK(c.container == container);
    REQUIRE(c.tensors.size() == 1);
    CHECK(c.tensors.at("w").shape() == Shape{2, 3});
    CHECK(c.tensors.at("w").to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4, 5});
    // select: the entry is validated but not built
    CHECK(decode_pth(bytes, "m", PthOptions{[](const std::string&) { return false; }}).tensors.empty());
  }
}

TEST_CASE("pth: from a file, an aligned float32 storage is the file's pages, private to the process") {
  TempDir dir("pth");
  int aligned = 0;
  // Names of 1 to 4 letters move the storage through every offset modulo 4 in both containers.
  for (const std::string name : {"w", "ww", "www", "wwww"}) {
    for (const auto& [container, bytes] : both(one_tensor_pickle(name, {2, 3}))) {
      CAPTURE(container);
      CAPTURE(name);
      const fs::path path = dir.path / (name + container + ".pth");
      write_file_atomic(path, bytes);
      // Where the storage lies 4-byte aligned in the file it is wrapped, else copied.
      const size_t at = bytes.find(six_floats());
      REQUIRE(at != std::string::npos);
      aligned += at % 4 == 0;
      Tensor w;
      {
        const PthContents c = load_pth(path);
        w = c.tensors.at(name);
      }  // the tensor alone keeps the mapping
      CHECK(in_mapping_of(w.raw_data(), path) == (at % 4 == 0));
      CHECK(w.to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4, 5});
      w.copy_from(Tensor::zeros({2, 3}));  // written in place: the process's own copy of the page
      CHECK(w.to_vector<float>() == std::vector<float>(6, 0.0f));
      CHECK(read_file(path) == bytes);
      write_file_atomic(path, std::string("replaced"));  // a new file under the name: w keeps the old
      CHECK(w.to_vector<float>() == std::vector<float>(6, 0.0f));
    }
  }
  CHECK(aligned >= 2);
}

TEST_CASE("pth: files PyTorch wrote keep values, dtypes, views and shared storages") {
  const fs::path dir = vgg_dir();
  for (const char* name : {"small_legacy.pth", "small_zip.pth"}) {
    CAPTURE(name);
    const PthContents c = load_pth(dir / name);
    CHECK(c.tensors.keys() == std::vector<std::string>{"base", "rows_cols", "transposed", "half", "double", "scalar", "empty"});
    for (const auto& [key, t] : c.tensors) {
      CAPTURE(key);
      const Tensor want = load_npy(dir / "small" / (key + ".npy"));
      CHECK(t.shape() == want.shape());
      CHECK(t.to_vector<double>() == want.to_vector<double>());  // exact: half widens exactly
    }
    CHECK(c.tensors.at("double").dtype() == DType::Float64);
    CHECK(c.tensors.at("half").dtype() == DType::Float32);
    // base[1:, ::2] and base.t() are views of base's storage in the file, and stay views here.
    CHECK(c.tensors.at("rows_cols").storage() == c.tensors.at("base").storage());
    CHECK(c.tensors.at("transposed").storage() == c.tensors.at("base").storage());
    CHECK(c.tensors.at("rows_cols").offset() == 6);
    CHECK(c.tensors.at("rows_cols").strides() == Shape{6, 2});
  }
}

TEST_CASE("pth: malicious pickles are refused before anything is called") {
  const fs::path dir = vgg_dir();
  // What torch.save writes for an object whose __reduce__ is os.system / eval (protocol 2 names
  // them posix.system and __builtin__.eval).
  for (const auto& [file, global] : std::vector<std::pair<const char*, const char*>>{
           {"evil_system_legacy.pth", "posix.system"}, {"evil_system_zip.pth", "posix.system"},
           {"evil_eval_legacy.pth", "__builtin__.eval"}, {"evil_eval_zip.pth", "__builtin__.eval"}}) {
    CAPTURE(file);
    CHECK_THROWS_WITH_AS(load_pth(dir / file),
                         doctest::Contains(("refusing global '" + std::string(global) + "'").c_str()), Error);
  }
  // The same by hand, with the names as Python 3 writes them, with GLOBAL and STACK_GLOBAL.
  const auto call = [](const std::string& module, const std::string& name) {
    return PickleBuilder().ordered_dict().str("w").global(module, name).str("echo pwned").op('\x85').op('R').op('s').done();
  };
  for (const auto& [container, bytes] : both(call("os", "system"))) check_refused(bytes, "refusing global 'os.system'", container);
  for (const auto& [container, bytes] : both(call("builtins", "eval"))) check_refused(bytes, "refusing global 'builtins.eval'", container);
  for (const auto& [container, bytes] : both(call("torch", "load"))) check_refused(bytes, "refusing global 'torch.load'", container);
  const std::string stack_global = PickleBuilder().raw("\x8c\x02os\x8c\x06system\x93").done();
  check_refused(zip_pth(stack_global, {}), "refusing global 'os.system'");
}

TEST_CASE("pth: calls of unknown callables and code-running opcodes are refused") {
  // torch.FloatStorage may be named (persistent ids use it) but never called.
  const std::string reduce_storage =
      PickleBuilder().ordered_dict().str("w").global("torch", "FloatStorage").integer(4).op('\x85').op('R').op('s').done();
  for (const auto& [c, b] : both(reduce_storage)) check_refused(b, "refusing to call global torch.FloatStorage", c);
  // REDUCE of something that is not a global at all.
  const std::string reduce_str = PickleBuilder().ordered_dict().str("w").str("os.system").op(')').op('R').op('s').done();
  for (const auto& [c, b] : both(reduce_str)) check_refused(b, "REDUCE calls a str", c);
  // BUILD (__setstate__) on a tensor.
  const std::string build_tensor =
      PickleBuilder().ordered_dict().str("w").tensor("0", 6, 0, {2, 3}, {3, 1}).op('}').op('b').op('s').done();
  for (const auto& [c, b] : both(build_tensor)) check_refused(b, "refusing to set the state", c);
  // INST, OBJ, NEWOBJ and EXT1 build or call objects by themselves: not in a state_dict.
  for (const char* op : {"i", "o", "\x81", "\x82", "\x92"}) {
    const std::string p = PickleBuilder().ordered_dict().raw(op).done();
    check_refused(zip_pth(p, {}), "is not one a PyTorch state_dict uses");
  }
  // A persistent id that is not a storage reference.
  const std::string bad_pid = PickleBuilder().ordered_dict().str("w").str("file:///etc/passwd").op('Q').op('s').done();
  for (const auto& [c, b] : both(bad_pid)) check_refused(b, "is not a storage reference", c);
  // A state_dict entry that is not a tensor, and a root that is not a dict.
  for (const auto& [c, b] : both(PickleBuilder().ordered_dict().str("w").integer(3).op('s').done(), ""))
    check_refused(b, "is a int 3, not a tensor", c);
  for (const auto& [c, b] : both(PickleBuilder().str("hello").done(), "")) check_refused(b, "not a state_dict", c);
  // Integer tensors are not weights we can use (24 bytes: three int64).
  const std::string longs = PickleBuilder().ordered_dict().str("w").tensor("0", 3, 0, {3}, {1}, "LongStorage").op('s').done();
  for (const auto& [c, b] : both(longs, six_floats(), 8)) check_refused(b, "int64; only floating-point", c);
  // A storage the pickle uses but the legacy key list leaves out.
  check_refused(legacy_pth(one_tensor_pickle("w", {2, 3}), {}), "storage '0' is used but not in the storage list");
}

TEST_CASE("pth: absurd shapes, strides, offsets and storage sizes are refused before allocating") {
  const auto tensor = [](int64_t numel, int64_t offset, const std::vector<int64_t>& shape, const std::vector<int64_t>& stride) {
    return PickleBuilder().ordered_dict().str("w").tensor("0", numel, offset, shape, stride).op('s').done();
  };
  struct Case {
    std::string pickle;
    const char* says;
  };
  const int64_t huge = int64_t{1} << 40;
  const std::vector<Case> cases = {
      {tensor(int64_t{1} << 60, 0, {2, 3}, {3, 1}), "claims 1152921504606846976 elements, more than the file holds"},
      {tensor(6, 0, {huge, huge, huge}, {1, 1, 1}), "is too large"},
      {tensor(6, 0, {1000, 1000}, {1000, 1}), "reaches past the end of its storage (6 elements)"},
      {tensor(6, 0, {2, 3}, {int64_t{1} << 62, 1}), "reaches past the end of its storage"},  // overflow
      {tensor(6, 6, {2, 3}, {3, 1}), "reaches past the end of its storage"},
      {tensor(6, 0, {2, -3}, {3, 1}), "malformed size or stride"},
      {tensor(6, 0, {2, 3}, {3}), "malformed size or stride"},
      {tensor(6, -1, {2, 3}, {3, 1}), "unexpected arguments"},
      {tensor(-6, 0, {2, 3}, {3, 1}), "malformed storage reference"},
  };
  for (const Case& c : cases)
    for (const auto& [container, bytes] : both(c.pickle)) check_refused(bytes, c.says, container);

  // The data does not match what the pickle says.
  const std::string ok = one_tensor_pickle("w", {2, 3});
  check_refused(zip_pth(ok, {{"0", six_floats().substr(0, 20)}}), "has 20 bytes, expected 24");
  check_refused(zip_pth(ok, {}), "storage '0' has no data entry");
  check_refused(legacy_pth(ok, {{"0", six_floats() + std::string(4, '\0')}}), "holds 7 elements, not 6");
  // One storage described two ways.
  const std::string twice = PickleBuilder().ordered_dict().str("a").tensor("0", 6, 0, {6}, {1}).op('s')
                                .str("b").tensor("0", 5, 0, {5}, {1}).op('s').done();
  for (const auto& [c, b] : both(twice)) check_refused(b, "described two different ways", c);
  // Duplicate keys.
  const std::string dup = PickleBuilder().ordered_dict().str("a").tensor("0", 6, 0, {6}, {1}).op('s')
                              .str("a").tensor("0", 6, 0, {6}, {1}).op('s').done();
  for (const auto& [c, b] : both(dup)) check_refused(b, "appears twice", c);
}

TEST_CASE("pth: the unpickler's own limits: lengths, stack, memo and object counts") {
  // A string claiming 4 GB in a tiny file: refused by its length, nothing allocated.
  check_refused(zip_pth(PickleBuilder().raw("X\xff\xff\xff\xff").done(), {}), "needs 4294967295 bytes but only");
  check_refused(zip_pth(PickleBuilder().raw("h\x07").done(), {}), "memo entry 7 was never stored");
  check_refused(zip_pth(PickleBuilder().op('s').done(), {}), "stack underflow");
  check_refused(zip_pth(PickleBuilder().raw("\x80\x05").done(), {}), "pickle protocol 5 is not supported");
  check_refused(zip_pth(PickleBuilder().raw("c" + std::string(300, 'a')).done(), {}), "GLOBAL name is not terminated");
  // Deep nesting is bounded (and the arena never recurses, so nothing overflows the C++ stack).
  check_refused(zip_pth(PickleBuilder().raw(std::string((1 << 20) + 1, '(')).done(), {}), "stack too deep");
  // Many small objects: each costs a few bytes of file but a fixed-size object here; capped.
  check_refused(zip_pth(PickleBuilder().op(']').raw(std::string(1 << 20, ']')).done(), {}), "more than 1048576 objects");
}

TEST_CASE("pth: wrong magic, versions, endianness and containers are refused") {
  const std::string good = legacy_pth(one_tensor_pickle("w", {2, 3}), {{"0", six_floats()}});
  REQUIRE(decode_pth(good).tensors.size() == 1);
  std::string magic = good;
  magic[5] ^= 1;
  check_refused(magic, "wrong magic number");
  std::string version = good;
  version.replace(version.find("J\xe9\x03"), 3, "J\xe8\x03");  // 1001 -> 1000
  check_refused(version, "unsupported legacy format version");
  std::string big_endian = good;
  big_endian[big_endian.find("\x88u.")] = '\x89';  // little_endian: False
  check_refused(big_endian, "big-endian");
  check_refused("", "not a PyTorch weight file");
  check_refused("\x89PNG\r\n\x1a\n plus some more bytes", "not a PyTorch weight file");
  check_refused(std::string("\x80\x02\x8a\x0a", 4), "truncated");

  // Zip archives that are not torch.save files.
  StringSink plain;
  {
    ZipWriter z(plain);
    z.add("hello.txt", "hi");
    z.finish();
  }
  check_refused(plain.bytes, "without <name>/data.pkl");
  const std::string pkl = one_tensor_pickle("w", {2, 3});
  StringSink two;
  {
    ZipWriter z(two);
    z.add("a/data.pkl", pkl);
    z.add("b/data.pkl", pkl);
    z.finish();
  }
  check_refused(two.bytes, "more than one data.pkl");
  StringSink order;
  {
    ZipWriter z(order);
    z.add("archive/data.pkl", pkl);
    z.add("archive/byteorder", "big");
    z.add("archive/data/0", six_floats());
    z.finish();
  }
  check_refused(order.bytes, "big-endian byte order");
}

TEST_CASE("pth: zip entries outside the archive, compressed or duplicated are refused") {
  const fs::path dir = vgg_dir();
  CHECK_THROWS_WITH_AS(load_pth(dir / "traversal.pth"), doctest::Contains("'../evil.sh' points outside the archive"), Error);
  CHECK_THROWS_WITH_AS(load_pth(dir / "deflated.pth"), doctest::Contains("is compressed (method 8)"), Error);
  const std::string pkl = one_tensor_pickle("w", {2, 3});
  for (const char* name : {"../evil", "/etc/passwd", "archive/../../x", "archive\\..\\x", ".."}) {
    CAPTURE(name);
    StringSink s;
    ZipWriter z(s);
    z.add("archive/data.pkl", pkl);
    z.add("archive/data/0", six_floats());
    z.add(name, "x");
    z.finish();
    check_refused(s.bytes, "points outside the archive");
  }
  check_refused(zip_pth(pkl, {{"0", six_floats()}, {"0", six_floats()}}), "appears twice");
}

TEST_CASE("pth: truncated at every offset, a file is refused with an error, never a crash") {
  const fs::path dir = vgg_dir();
  for (const char* name : {"small_legacy.pth", "small_zip.pth"}) {
    CAPTURE(name);
    const std::string bytes = read_file(dir / name);
    REQUIRE(decode_pth(bytes, name).tensors.size() == 7);
    for (size_t n = 0; n < bytes.size(); ++n) {
      CAPTURE(n);
      CHECK_THROWS_AS(decode_pth(std::string_view(bytes).substr(0, n), name), Error);
    }
  }
  // The 528 MB VGG16 files, cut inside the pickle, inside storages and just before the end. With
  // nothing selected no tensor is built, so each attempt only validates the structure.
  const PthOptions none{[](const std::string&) { return false; }};
  for (const char* name : {"vgg16_legacy.pth", "vgg16_zip.pth"}) {
    CAPTURE(name);
    const MappedFile file(dir / name);
    const std::string_view bytes = file.bytes();
    REQUIRE(decode_pth(bytes, name, none).tensors.empty());  // the whole file passes
    std::vector<size_t> cuts = {0, 1, 4, 16, 100, 1000, 5000, bytes.size() - 1, bytes.size() - 22, bytes.size() - 4096};
    for (size_t k = 1; k < 24; ++k) cuts.push_back(bytes.size() / 24 * k + k);
    for (size_t n : cuts) {
      CAPTURE(n);
      CHECK_THROWS_AS(decode_pth(bytes.substr(0, n), name, none), Error);
    }
  }
}

TEST_CASE("pth: random corruption either loads or is refused with an sn::Error") {
  const fs::path dir = vgg_dir();
  Generator gen(7);
  int refused = 0, loaded = 0;
  for (const char* name : {"small_legacy.pth", "small_zip.pth"}) {
    const std::string good = read_file(dir / name);
    for (int trial = 0; trial < 1500; ++trial) {
      std::string bytes = good;
      const uint32_t flips = 1 + gen.next_u32() % 4;
      for (uint32_t f = 0; f < flips; ++f) bytes[gen.next_u32() % bytes.size()] = static_cast<char>(gen.next_u32());
      try {
        decode_pth(bytes, name);
        ++loaded;  // a flipped bit inside tensor data is still a valid file
      } catch (const Error&) {
        ++refused;
      }
    }
  }
  MESSAGE("random corruption: ", refused, " refused, ", loaded, " still valid");
  CHECK(refused > 1000);
}
