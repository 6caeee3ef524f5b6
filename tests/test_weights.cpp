// Weight files: safetensors (round trips, F16/BF16 storage, every hostile header refused), the
// strict JSON reader, .npy, atomic replacement, and checkpoints.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <filesystem>
#include <limits>

#include "tensor/random.h"
#include "weights/atomic_file.h"
#include "tests/env_scope.h"
#include "tests/mapping_check.h"
#include "tests/temp_dir.h"
#include "weights/checkpoint.h"
#include "weights/digest_cache.h"
#include "tensor/half.h"
#include "weights/json.h"
#include "weights/npy.h"
#include "weights/safetensors.h"
#include "weights/sha256.h"

using namespace sn;
using sn::test::EnvScope;
using sn::test::in_mapping_of;
using sn::test::TempDir;
namespace fs = std::filesystem;

namespace {

std::vector<double> vals(const Tensor& t) { return t.to_vector<double>(); }

// A safetensors file from a hand-written header and data section (for hostile inputs).
std::string st_file(const std::string& header, const std::string& data = "", uint64_t len_override = 0) {
  std::string out;
  const uint64_t len = len_override ? len_override : header.size();
  for (int i = 0; i < 8; ++i) out += static_cast<char>((len >> (8 * i)) & 0xFF);
  return out + header + data;
}

void check_refused(const std::string& bytes, const std::string& expected_fragment) {
  CAPTURE(expected_fragment);
  CHECK_THROWS_WITH_AS(decode_safetensors(bytes, "hostile.safetensors"), doctest::Contains(expected_fragment.c_str()),
                       Error);
}

std::string slurp(const fs::path& p) { return read_file(p); }

}  // namespace

// ---------------------------------------------------------------- TensorDict

TEST_CASE("TensorDict keeps insertion order, refuses duplicate keys and maps prefixes") {
  TensorDict d;
  d.insert("b.weight", Tensor::ones({2}));
  d.insert("a.bias", Tensor::zeros({1}));
  CHECK(d.keys() == std::vector<std::string>{"b.weight", "a.bias"});
  CHECK_THROWS_WITH_AS(d.insert("a.bias", Tensor::ones({1})), doctest::Contains("duplicate key 'a.bias'"), Error);
  CHECK_THROWS_WITH_AS(d.at("nope"), doctest::Contains("'nope'"), Error);
  d.set("a.bias", Tensor::full({1}, 5.0));
  CHECK(d.at("a.bias").item() == 5.0);
  const TensorDict p = d.add_prefix("model.");
  CHECK(p.keys() == std::vector<std::string>{"model.b.weight", "model.a.bias"});
  CHECK(p.strip_prefix("model.").keys() == d.keys());
  CHECK(d.erase("b.weight"));
  CHECK(d.keys() == std::vector<std::string>{"a.bias"});
  CHECK(d.at("a.bias").item() == 5.0);
}

// ---------------------------------------------------------------- JSON

TEST_CASE("the JSON reader accepts valid documents and decodes escapes") {
  const json::Value v = json::parse(R"( {"a": [1, -2, 3.5e2], "s": "x\"\u00e9\ud83d\ude00", "t": true, "n": null} )");
  REQUIRE(v.is(json::Value::Kind::Object));
  CHECK(v.keys == std::vector<std::string>{"a", "s", "t", "n"});
  CHECK(v.find("a")->items[1].as_int64("a") == -2);
  CHECK_THROWS_AS(v.find("a")->items[2].as_int64("a"), Error);  // 3.5e2 is not an integer literal
  CHECK(v.find("s")->text == "x\"\xc3\xa9\xf0\x9f\x98\x80");
  CHECK(v.find("t")->boolean);
  CHECK(json::parse(json::quote("tab\there \"q\" \\")).text == "tab\there \"q\" \\");
  // Many keys parse in linear time (duplicate detection is hashed, not a scan per key).
  std::string many = "{";
  for (int i = 0; i < 200000; ++i) many += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":0";
  CHECK(json::parse(many + "}").keys.size() == 200000);
}

TEST_CASE("the JSON reader refuses every leniency") {
  for (const char* bad : {"{\"a\":1,}", "[1,]", "{\"a\":1 \"b\":2}", "{\"a\":1,\"a\":2}", "[01]", "[1.]", "[-]",
                          "[.5]", "{'a':1}", "[\"\x01\"]", "[\"\xff\"]", "[\"\xc0\xaf\"]", "[\"\\ud800\"]",
                          "[\"\\x\"]", "[tru]", "{\"a\":1} x", "", "[", "{\"a\"", "\"abc", "// c\n1"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(json::parse(bad), Error);
  }
  std::string deep(100, '[');
  deep += std::string(100, ']');
  CHECK_THROWS_WITH_AS(json::parse(deep), doctest::Contains("nesting too deep"), Error);
  CHECK_THROWS_WITH_AS(json::parse("{\"a\":1,\"a\":2}"), doctest::Contains("duplicate key \"a\""), Error);
  CHECK_THROWS_WITH_AS(json::parse("[99999999999999999999]").items[0].as_int64("dim"),
                       doctest::Contains("out of range"), Error);
}

// ---------------------------------------------------------------- half precision

TEST_CASE("float -> F16 rounds to nearest even, saturates to inf, keeps NaN; F16 -> float is exact") {
  CHECK(float_to_half_bits(1.0f) == 0x3C00);
  CHECK(float_to_half_bits(-2.0f) == 0xC000);
  CHECK(float_to_half_bits(65504.0f) == 0x7BFF);            // largest half
  CHECK(float_to_half_bits(65519.0f) == 0x7BFF);            // rounds down
  CHECK(float_to_half_bits(65520.0f) == 0x7C00);            // halfway to 2^16: rounds to inf
  CHECK(float_to_half_bits(1.0f + 0x1p-11f) == 0x3C00);     // tie, even neighbour is 1.0
  CHECK(float_to_half_bits(1.0f + 3 * 0x1p-11f) == 0x3C02); // tie, rounds up to even
  CHECK(float_to_half_bits(0x1p-24f) == 0x0001);            // smallest subnormal
  CHECK(float_to_half_bits(0x1p-25f) == 0x0000);            // tie with zero: even is zero
  CHECK(float_to_half_bits(0x1.8p-25f) == 0x0001);
  CHECK(float_to_half_bits(0x1.ffcp-15f) == 0x0400);        // subnormal rounding carries into normal
  CHECK(std::isnan(half_bits_to_float(float_to_half_bits(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(half_bits_to_float(0x0001) == 0x1p-24f);
  CHECK(half_bits_to_float(0x8000) == 0.0f);
  CHECK(std::signbit(half_bits_to_float(0x8000)));
  CHECK(half_bits_to_float(0xFC00) == -std::numeric_limits<float>::infinity());
  for (uint32_t h = 0; h < 0x10000; ++h) {  // every finite half survives the round trip
    if ((h & 0x7C00) == 0x7C00) continue;
    REQUIRE(float_to_half_bits(half_bits_to_float(static_cast<uint16_t>(h))) == h);
  }
  CHECK(float_to_bf16_bits(1.0f) == 0x3F80);
  CHECK(float_to_bf16_bits(std::bit_cast<float>(0x3F808000u)) == 0x3F80);  // tie to even
  CHECK(float_to_bf16_bits(std::bit_cast<float>(0x3F818000u)) == 0x3F82);
  CHECK(bf16_bits_to_float(0xC000) == -2.0f);
}

// ---------------------------------------------------------------- safetensors

TEST_CASE("safetensors round-trips float32, float64, scalars, empty tensors and metadata") {
  Generator g(7);
  TensorDict d;
  d.insert("conv.weight", Tensor::randn({4, 3, 3, 3}, g));
  d.insert("conv.bias", Tensor::randn({4}, g, DType::Float64));
  d.insert("step", Tensor::scalar(12.0, DType::Float64));
  d.insert("empty", Tensor::zeros({0, 5}));
  d.insert("odd", Tensor::randn({3}, g));
  const Metadata meta{{"epoch", "3"}, {"note", "caf\xc3\xa9 \"quoted\"\n"}};

  const SafetensorsContents back = decode_safetensors(encode_safetensors(d, meta));
  CHECK(back.metadata == meta);
  REQUIRE(back.tensors.size() == d.size());
  for (const auto& [name, t] : d) {
    CAPTURE(name);
    const Tensor& u = back.tensors.at(name);
    CHECK(u.dtype() == t.dtype());
    CHECK(u.shape() == t.shape());
    CHECK(vals(u) == vals(t));
  }
  // Non-contiguous views are written by value.
  Tensor base = Tensor::arange(6).as_strided({3, 2}, {1, 3}, 0);
  TensorDict v;
  v.insert("t", base);
  CHECK(vals(decode_safetensors(encode_safetensors(v)).tensors.at("t")) == std::vector<double>{0, 3, 1, 4, 2, 5});
}

TEST_CASE("safetensors writes the exact reference layout: sorted keys, widest first, padded header") {
  TensorDict d;
  d.insert("b", Tensor::from_vector<float>({1.0f}, {1}));
  d.insert("a", Tensor::from_vector<float>({2.0f, 3.0f}, {1, 2}));
  d.insert("z", Tensor::from_vector<double>({4.0}, {1}));
  const std::string bytes = encode_safetensors(d, {{"k", "v"}});
  const std::string header =
      R"({"__metadata__":{"k":"v"},"z":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},)"
      R"("a":{"dtype":"F32","shape":[1,2],"data_offsets":[8,16]},"b":{"dtype":"F32","shape":[1],"data_offsets":[16,20]}})";
  const std::string padded = header + std::string((8 - header.size() % 8) % 8, ' ');
  CHECK(bytes.substr(8, padded.size()) == padded);
  CHECK(bytes.size() == 8 + padded.size() + 20);
  uint64_t len = 0;
  for (int i = 7; i >= 0; --i) len = (len << 8) | static_cast<unsigned char>(bytes[i]);
  CHECK(len == padded.size());
  CHECK((8 + len) % 8 == 0);  // the data section starts 8-aligned
}

TEST_CASE("safetensors can store float tensors as F16 or BF16; they load as float32") {
  Generator g(3);
  TensorDict d;
  d.insert("w", Tensor::randn({64, 9}, g));
  d.insert("exact", Tensor::from_vector<double>({0.5, -2.0, 1024.0, 0.0}, {4}));  // representable in both
  const std::string f32 = encode_safetensors(d);
  for (StoredDType stored : {StoredDType::F16, StoredDType::BF16}) {
    const bool half = stored == StoredDType::F16;
    CAPTURE(half);
    const std::string small = encode_safetensors(d, {}, stored);
    CHECK(small.size() < f32.size() * 6 / 10);
    CHECK(small.find(half ? "\"dtype\":\"F16\"" : "\"dtype\":\"BF16\"") != std::string::npos);
    const SafetensorsContents back = decode_safetensors(small);
    CHECK(back.tensors.at("exact").dtype() == DType::Float32);
    CHECK(vals(back.tensors.at("exact")) == std::vector<double>{0.5, -2.0, 1024.0, 0.0});
    const auto w = d.at("w").to_vector<float>();
    const auto wb = back.tensors.at("w").to_vector<float>();
    for (size_t i = 0; i < w.size(); ++i) {
      const float expect = half ? half_bits_to_float(float_to_half_bits(w[i])) : bf16_bits_to_float(float_to_bf16_bits(w[i]));
      REQUIRE(wb[i] == expect);
      REQUIRE(std::abs(wb[i] - w[i]) <= std::abs(w[i]) * (half ? 0x1p-11 : 0x1p-8) + 1e-7);
    }
  }
}

TEST_CASE("safetensors refuses hostile or broken files with one clear error") {
  const std::string ok_entry = R"("t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string data8(8, '\0');
  // Sanity: the well-formed version of the hand-built file loads.
  CHECK(decode_safetensors(st_file("{" + ok_entry + "}", data8)).tensors.at("t").numel() == 2);

  check_refused(std::string(5, '\0'), "too short");
  check_refused(st_file("{}", "", 1000), "runs past the end of the file");
  check_refused(st_file("{}", "", 200'000'000), "exceeds the limit");
  check_refused(st_file("{" + ok_entry, data8), "malformed JSON");
  check_refused(st_file("[1,2]"), "header must be a JSON object");
  check_refused(st_file(R"({"t":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", data8), "unsupported dtype \"I64\"");
  check_refused(st_file(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data8), "negative dimension");
  check_refused(st_file(R"({"t":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", data8), "expected an integer");
  check_refused(st_file(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", data8),
                "is too large");
  check_refused(st_file(R"({"t":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]}})", data8),
                "out of range");
  check_refused(st_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", data8), "run past the end");
  check_refused(st_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[4,0]}})", data8), "invalid data_offsets");
  check_refused(st_file(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data8), "needs 12");
  check_refused(st_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("u":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data8),
                "overlaps");
  check_refused(st_file(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data8), "gap in the data");
  check_refused(st_file("{" + ok_entry + "}", data8 + "xxxx"), "tensors account for 8");
  check_refused(st_file("{" + ok_entry + "," + ok_entry + "}", data8), "duplicate key \"t\"");
  check_refused(st_file(R"({"__metadata__":{"a":1},)" + ok_entry + "}", data8), "must be a string");
  check_refused(st_file(R"({"__metadata__":[],)" + ok_entry + "}", data8), "__metadata__ must be an object");
  check_refused(st_file(R"({"t":{"dtype":"F32","shape":[2]}})", data8), "needs \"dtype\", \"shape\" and \"data_offsets\"");
  check_refused(st_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", data8), "unexpected field \"x\"");
  check_refused(st_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", data8), "[begin, end]");
  check_refused(st_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "\x01\x02\x03"), "run past the end");

  // Every truncation of a valid file is refused, never read out of bounds.
  TensorDict d;
  d.insert("x", Tensor::ones({3, 2}));
  const std::string good = encode_safetensors(d, {{"m", "v"}});
  for (size_t n = 0; n < good.size(); ++n) {
    CAPTURE(n);
    CHECK_THROWS_AS(decode_safetensors(good.substr(0, n)), Error);
  }
  // Errors name the source.
  CHECK_THROWS_WITH_AS(decode_safetensors(std::string(3, '\0'), "model.safetensors"),
                       doctest::Contains("safetensors: model.safetensors:"), Error);
}

TEST_CASE("safetensors files on disk: save, load, and a missing file is an sn::Error") {
  TempDir dir("weights");
  TensorDict d;
  d.insert("w", Tensor::full({2, 2}, 1.5));
  save_safetensors(dir.path / "m.safetensors", d, {{"author", "test"}});
  const SafetensorsContents back = load_safetensors(dir.path / "m.safetensors");
  CHECK(vals(back.tensors.at("w")) == std::vector<double>{1.5, 1.5, 1.5, 1.5});
  CHECK(back.metadata.at("author") == "test");
  CHECK(dir.files().size() == 1);  // no temporary left behind
  CHECK_THROWS_WITH_AS(load_safetensors(dir.path / "missing.safetensors"), doctest::Contains("missing.safetensors"), Error);
}

// ---------------------------------------------------------------- npy

TEST_CASE("safetensors from a file: aligned float tensors are the file's pages, private to the process") {
  TempDir dir("weights");
  Generator gen(12);
  TensorDict d;
  d.insert("f32", Tensor::randn({5, 7}, gen));
  d.insert("f64", Tensor::randn({3}, gen, DType::Float64));
  const fs::path path = dir.path / "w.safetensors", half = dir.path / "h.safetensors";
  save_safetensors(path, d);
  save_safetensors(half, d, {}, StoredDType::F16);
  const std::string bytes = read_file(path);
  TensorDict loaded;
  {
    const SafetensorsContents c = load_safetensors(path), h = load_safetensors(half);
    loaded = c.tensors;
    CHECK_FALSE(in_mapping_of(h.tensors.at("f32").raw_data(), half));  // F16: widened into a copy
  }
  for (const char* key : {"f32", "f64"}) {
    CAPTURE(key);
    Tensor t = loaded.at(key);
    CHECK(in_mapping_of(t.raw_data(), path));  // the reference layout keeps every tensor aligned
    CHECK(vals(t) == vals(d.at(key)));
    t.copy_from(Tensor::zeros(t.shape(), t.dtype()));
    CHECK(vals(t) == std::vector<double>(static_cast<size_t>(t.numel()), 0.0));
  }
  CHECK(read_file(path) == bytes);  // written in place in the process only
}

TEST_CASE("a file's digest is remembered for that version of the file only") {
  TempDir dir("digests");
  const EnvScope xdg("XDG_CACHE_HOME", (dir.path / "cache").string());
  const fs::path file = dir.path / "weights.bin";
  write_file_atomic(file, std::string("weights, version 1"));
  const std::string d1 = sha256_hex("version 1"), d2 = sha256_hex("version 2");
  CHECK_FALSE(FileDigest(file, "k").remembered());
  FileDigest(file, "k").remember(d1);
  CHECK(FileDigest(file, "k").remembered() == d1);
  CHECK_FALSE(FileDigest(file, "other kind").remembered());
  FileDigest(file, "k").remember("not a digest");  // refused: the entry stays as it was
  CHECK(FileDigest(file, "k").remembered() == d1);
  // A new version of the file (a rename over it, or written in place) has no digest yet; and one
  // taken while the file changed underneath is not kept for the new version.
  const FileDigest before(file, "k");
  write_file_atomic(file, std::string("weights, version 2"));
  before.remember(d2);
  CHECK_FALSE(FileDigest(file, "k").remembered());
  FileDigest(file, "k").remember(d2);
  CHECK(FileDigest(file, "k").remembered() == d2);
  // A damaged entry is ignored (and rewritten by the next remember).
  for (const auto& e : fs::directory_iterator(dir.path / "cache" / "stylenet" / "digests"))
    write_file_atomic(e.path(), std::string("garbage"));
  CHECK_FALSE(FileDigest(file, "k").remembered());
  // A whole file's SHA-256, hashed once per version: the second call reads the remembered one.
  const fs::path other = dir.path / "model.bin";
  write_file_atomic(other, std::string("a model"));
  CHECK(remembered_file_sha256(other) == sha256_file_hex(other));
  CHECK(FileDigest(other, "sha256 of the file").remembered() == sha256_file_hex(other));
  // No cache folder: nothing remembered, nothing thrown.
  xdg.set((dir.path / "file-not-folder" / "x").string());
  write_file_atomic(dir.path / "file-not-folder", std::string("a file where the folder would be"));
  FileDigest(file, "k").remember(d2);
  CHECK_FALSE(FileDigest(file, "k").remembered());
}

TEST_CASE("npy round-trips float32/float64 with NumPy's exact header layout") {
  Tensor t = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  const std::string bytes = encode_npy(t);
  // What numpy.save writes for np.zeros((2, 3), np.float32) (verified against NumPy 1.24).
  const std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  CHECK(bytes.substr(0, 10) == std::string("\x93NUMPY\x01\x00\x76\x00", 10));
  CHECK(bytes.substr(10, 118) == header + std::string(118 - header.size() - 1, ' ') + "\n");
  CHECK(bytes.size() == 128 + 24);
  CHECK(vals(decode_npy(bytes)) == vals(t));

  for (const Shape& shape : {Shape{5}, Shape{}, Shape{2, 0, 3}, Shape{1, 2, 3, 4}}) {
    CAPTURE(shape_str(shape));
    Generator g(1);
    Tensor x = Tensor::randn(shape, g, DType::Float64);
    const Tensor y = decode_npy(encode_npy(x));
    CHECK(y.dtype() == DType::Float64);
    CHECK(y.shape() == shape);
    CHECK(vals(y) == vals(x));
  }
  CHECK(encode_npy(Tensor::zeros({5})).find("'shape': (5,), }") != std::string::npos);
  CHECK(encode_npy(Tensor::scalar(1.0)).find("'shape': (), }") != std::string::npos);
}

TEST_CASE("npy reads version 2.0 headers and refuses what it cannot represent") {
  auto file = [](int major, const std::string& dict, const std::string& data) {
    std::string out = "\x93NUMPY";
    out += static_cast<char>(major);
    out += '\0';
    const uint32_t n = static_cast<uint32_t>(dict.size());
    for (int i = 0; i < (major == 1 ? 2 : 4); ++i) out += static_cast<char>((n >> (8 * i)) & 0xFF);
    return out + dict + data;
  };
  const std::string f8(16, '\0');
  CHECK(decode_npy(file(2, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n", f8)).numel() == 2);
  CHECK(decode_npy(file(1, "{\"shape\": (1, 2), \"fortran_order\": False, \"descr\": \"<f8\"}", f8)).shape() ==
        Shape{1, 2});

  auto refused = [](const std::string& bytes, const char* fragment) {
    CAPTURE(fragment);
    CHECK_THROWS_WITH_AS(decode_npy(bytes, "golden.npy"), doctest::Contains(fragment), Error);
  };
  refused("not numpy at all", "bad magic");
  refused(file(3, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", f8), "unsupported format version 3");
  refused(file(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", f8), "unsupported dtype '<i8'");
  refused(file(1, "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", f8), "unsupported dtype '>f8'");
  refused(file(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2,), }", f8), "fortran_order=True");
  refused(file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", f8), "needs 24");
  refused(file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", f8), "needs 8");
  refused(file(1, "{'descr': '<f8', 'shape': (2,), }", f8), "needs 'descr', 'fortran_order' and 'shape'");
  refused(file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (-2,), }", f8), "malformed shape");
  refused(file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1}", f8), "unexpected or repeated key 'x'");
  refused(file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", f8), "too large");
  refused(file(1, "{'descr': '<f8'", "").substr(0, 12), "runs past the end");

  TempDir dir("weights");
  save_npy(dir.path / "x.npy", Tensor::ones({3}));
  CHECK(vals(load_npy(dir.path / "x.npy")) == std::vector<double>{1, 1, 1});
}

// ---------------------------------------------------------------- atomic writes

TEST_CASE("npy: a shape whose size product overflows is refused, also beside a zero (fuzzer find)") {
  // Found by fuzz_npy (libFuzzer, ASan + UBSan): numel multiplied the sizes with signed overflow.
  const std::string file = std::string("\x93NUMPY\x01\x00v\x00", 10) +
                           "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 267680023, 18,433310023, 18343,13000, "
                           "4), }                     ";
  CHECK_THROWS_WITH_AS(decode_npy(file), doctest::Contains("more elements"), Error);
  CHECK_THROWS_AS(numel({3037000500, 3037000500}), Error);
  CHECK(numel({0, 3037000500, 3037000500 / 4}) == 0);
}

// Runs the body with the SHA extensions on (where the CPU has them) and with the portable code.
struct ShaHardwareScope {
  bool saved;
  explicit ShaHardwareScope(bool use) : saved(set_sha256_hardware(use)) {}
  ~ShaHardwareScope() { set_sha256_hardware(saved); }
};

TEST_CASE("SHA-256 gives the FIPS 180-2 test vectors, whole and fed in pieces of every size") {
  for (bool hardware : {true, false}) {
    ShaHardwareScope scope(hardware);
    CAPTURE(hardware);
    CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK(sha256_hex(two_blocks) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const std::string million(1000000, 'a');
    CHECK(sha256_hex(million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    for (size_t piece : {1, 3, 63, 64, 65, 1000}) {
      Sha256 h;
      for (size_t at = 0; at < million.size(); at += piece) h.update(std::string_view(million).substr(at, piece));
      CHECK(h.finish_hex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }
  }
}

TEST_CASE("SHA-256 with the SHA extensions gives the portable code's digests (skipped without them)") {
  ShaHardwareScope scope(true);
  if (!set_sha256_hardware(true)) {
    MESSAGE("skipped: this CPU has no SHA extensions");
    return;
  }
  Generator gen(3);
  std::string bytes(300000, '\0');
  for (char& ch : bytes) ch = static_cast<char>(gen.below(256));
  for (size_t length : {0, 1, 55, 56, 63, 64, 65, 127, 128, 1000, 4096, 65537, 300000}) {
    const std::string_view part = std::string_view(bytes).substr(0, length);
    const std::string fast = sha256_hex(part);
    set_sha256_hardware(false);
    const std::string portable = sha256_hex(part);
    set_sha256_hardware(true);
    CAPTURE(length);
    CHECK(fast == portable);
  }
}

TEST_CASE("atomic write replaces the file, or leaves the old one intact and no temporary behind") {
  TempDir dir("weights");
  const fs::path target = dir.path / "weights.bin";
  write_file_atomic(target, "first version");
  CHECK(slurp(target) == "first version");
  write_file_atomic(target, "second");
  CHECK(slurp(target) == "second");

  // The writer throws half-way (as a serializer does when a tensor is bad): nothing changes.
  CHECK_THROWS_WITH_AS(write_file_atomic(target,
                                         [](ByteSink& sink) {
                                           sink.write(std::string(3 << 20, 'x'));  // > the sink's buffer
                                           throw Error("tensor exploded mid-write");
                                         }),
                       "tensor exploded mid-write", Error);
  CHECK(slurp(target) == "second");
  CHECK(dir.files().size() == 1);

  // A save through the safetensors writer that fails on an undefined tensor, likewise.
  TensorDict bad;
  bad.insert("a", Tensor::ones({1024}));
  bad.insert("b", Tensor());
  CHECK_THROWS_AS(save_safetensors(target, bad), Error);
  CHECK(slurp(target) == "second");
  CHECK(dir.files().size() == 1);

  // The directory does not exist: a clear error naming the path, nothing created.
  CHECK_THROWS_WITH_AS(write_file_atomic(dir.path / "no_such_dir" / "f.bin", "x"), doctest::Contains("no_such_dir"), Error);

  // The target is a directory: rename fails, the temporary is cleaned up.
  fs::create_directories(dir.path / "a_dir" / "child");
  CHECK_THROWS_WITH_AS(write_file_atomic(dir.path / "a_dir", "x"), doctest::Contains("cannot rename"), Error);
  CHECK(dir.files().size() == 2);
}

// ---------------------------------------------------------------- checkpoints

TEST_CASE("a checkpoint round-trips model, optimizer and schedule state with its metadata") {
  TempDir dir("weights");
  Generator g(11);
  Checkpoint c;
  c.model.insert("conv.weight", Tensor::randn({2, 3, 3, 3}, g));
  c.model.insert("conv.bias", Tensor::randn({2}, g));
  c.optimizer.insert("state.0.exp_avg", Tensor::randn({2, 3, 3, 3}, g));
  c.optimizer.insert("state.0.step", Tensor::scalar(7.0, DType::Float64));
  c.scheduler.insert("last_step", Tensor::scalar(7.0, DType::Float64));
  c.step = 7;
  c.seed = 0xFFFFFFFFFFFFFFFFull;
  c.info["style"] = "starry_night.jpg";
  const fs::path path = dir.path / "ckpt.safetensors";
  save_checkpoint(path, c);

  const Checkpoint back = load_checkpoint(path);
  CHECK(back.step == 7);
  CHECK(back.seed == c.seed);
  CHECK(back.info == c.info);
  for (auto [a, b] : {std::pair{&c.model, &back.model}, {&c.optimizer, &back.optimizer}, {&c.scheduler, &back.scheduler}}) {
    REQUIRE(a->size() == b->size());
    for (const auto& [k, t] : *a) {
      CAPTURE(k);
      CHECK(b->at(k).dtype() == t.dtype());
      CHECK(vals(b->at(k)) == vals(t));  // bit-identical: stored in native precision
    }
  }
  // The raw file uses the documented prefixes.
  const SafetensorsContents raw = load_safetensors(path);
  CHECK(raw.tensors.contains("model.conv.weight"));
  CHECK(raw.tensors.contains("optim.state.0.exp_avg"));
  CHECK(raw.tensors.contains("sched.last_step"));
  CHECK(raw.metadata.at("info.style") == "starry_night.jpg");

  // A plain weights file, or one with stray keys, is not a checkpoint.
  TensorDict plain;
  plain.insert("w", Tensor::ones({1}));
  save_safetensors(dir.path / "plain.safetensors", plain);
  CHECK_THROWS_WITH_AS(load_checkpoint(dir.path / "plain.safetensors"), doctest::Contains("not a StyleNet checkpoint"), Error);
  save_safetensors(dir.path / "stray.safetensors", plain, {{"format", "stylenet-checkpoint-v1"}, {"step", "1"}, {"seed", "2"}});
  CHECK_THROWS_WITH_AS(load_checkpoint(dir.path / "stray.safetensors"), doctest::Contains("unexpected tensor 'w'"), Error);
}
