// Every input with which a fuzzer ever found a bug (fuzz/regressions/<target>/<name>) goes through
// its target again: it must end in one sn::Error, never a crash (under the sanitizer builds, never
// a sanitizer report either). The files are the fuzzer's own crash inputs, committed before the fix.
#include <doctest/doctest.h>

#include <filesystem>

#include "fuzz/targets.h"
#include "tensor/error.h"
#include "weights/atomic_file.h"

namespace fs = std::filesystem;

TEST_CASE("fuzz regressions: every input a fuzzer found a bug with ends in a result or one sn::Error") {
  const fs::path root = fs::path(STYLENET_SOURCE_DIR) / "fuzz" / "regressions";
  int replayed = 0;
  for (const auto& dir : fs::directory_iterator(root)) {
    const sn::fuzz::Target& target = sn::fuzz::target(dir.path().filename().string());
    for (const auto& file : fs::directory_iterator(dir.path())) {
      CAPTURE(file.path().string());
      const std::string bytes = sn::read_file(file.path());
      CHECK_NOTHROW(sn::fuzz::run_guarded(target, bytes));
      ++replayed;
    }
  }
  CHECK(replayed >= 6);
}

TEST_CASE("fuzz regressions: the finds refused, with the messages users get") {
  const fs::path root = fs::path(STYLENET_SOURCE_DIR) / "fuzz" / "regressions";
  CHECK_THROWS_WITH_AS(sn::fuzz::target("npy").run(sn::read_file(root / "npy" / "shape_product_overflow")),
                       doctest::Contains("more elements than an int64 counts"), sn::Error);
  CHECK_THROWS_WITH_AS(sn::fuzz::target("image").run(sn::read_file(root / "image" / "jpeg_huffman_count_overflow")),
                       doctest::Contains("corrupt JPEG (a Huffman table declares"), sn::Error);
  for (const char* name : {"jpeg_huffman_counts_past_end", "jpeg_huffman_after_fill_bytes"})
    CHECK_THROWS_WITH_AS(sn::fuzz::target("image").run(sn::read_file(root / "image" / name)),
                         doctest::Contains("Huffman table"), sn::Error);
  CHECK_THROWS_WITH_AS(sn::fuzz::target("image").run(sn::read_file(root / "image" / "png_zlib_expands_without_bound")),
                       doctest::Contains("asks for more memory"), sn::Error);
}
