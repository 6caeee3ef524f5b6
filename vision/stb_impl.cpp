// The implementation of Debian's stb (libstb-dev, header-only): image decoding, encoding and
// resampling, compiled once, here.
//
// Decoding sees files from strangers. stb_image 2.27 (Debian 12's) is not hardened against them,
// so vision/image.cpp checks what it can before stb runs (the pixel budget from the header; JPEG
// Huffman table sizes, against an out-of-bounds write fuzz_image found), every allocation stb makes
// is capped at what the picture needs (a PNG inflating without end), and only the formats StyleNet
// reads are compiled in. fuzz_image also found two reports that stay, neither touching memory
// (a shift past 31 bits of a garbage bit buffer, a memcpy of 0 bytes to NULL): they are named in
// fuzz/ubsan.supp, the one place UBSan is told to let them pass. See README, "Hostile input".
#include <cstdlib>

#include "vision/stb_limits.h"

namespace sn::detail {
thread_local size_t stb_allocation_limit = static_cast<size_t>(-1);
}  // namespace sn::detail

namespace {
// stb_image's allocations, each refused (stb then fails with "outofmem") above the limit the
// decoding call set: a few KB of PNG can inflate without end (fuzz_image found one asking 2 GiB).
// Zeroed: a JPEG whose scan uses a Huffman table it never defined makes stb decode with whatever
// the table's memory held (fuzz_image found it reading values[-1] through such a table); with
// zeroed memory that table matches no code and the decode fails.
void* limited_malloc(size_t n) { return n > sn::detail::stb_allocation_limit ? nullptr : std::calloc(n, 1); }
void* limited_realloc(void* p, size_t n) { return n > sn::detail::stb_allocation_limit ? nullptr : std::realloc(p, n); }
}  // namespace

#define STBI_MALLOC(n) limited_malloc(n)
#define STBI_REALLOC(p, n) limited_realloc(p, n)
#define STBI_FREE(p) std::free(p)
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_HDR
#define STBI_NO_PIC
#define STBI_NO_PNM
#define STBI_NO_PSD
#define STBI_NO_GIF
#define STBI_MAX_DIMENSIONS (1 << 16)
#include <stb/stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb/stb_image_resize.h>
