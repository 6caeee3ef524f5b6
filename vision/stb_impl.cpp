// The implementation of Debian's stb (libstb-dev, header-only): image decoding, encoding and
// resampling, compiled once, here.
//
// Decoding sees files from strangers. stb_image 2.27 is not hardened against them, so
// vision/image.cpp checks what it can before stb runs (the pixel budget from the header, JPEG
// Huffman table sizes: an out-of-bounds write fuzz_image found), and only the formats StyleNet
// reads are compiled in. Under the sanitizer builds this file alone is compiled without UBSan's
// shift checks: stb's JPEG bit reader shifts by more than 31 on corrupt data (fuzz_image), which is
// arithmetic on a garbage bit buffer, not a memory access, and the decode then fails or yields
// garbage pixels; and a PNG with an empty first IDAT chunk makes stb memcpy 0 bytes to a null
// pointer (nonnull-attribute), which copies nothing. Every memory check (ASan, UBSan's bounds)
// stays on. See README, "Hostile input".
#include <cstdlib>

#include "vision/stb_limits.h"

namespace sn::detail {
thread_local size_t stb_allocation_limit = static_cast<size_t>(-1);
}  // namespace sn::detail

namespace {
// stb_image's allocations, each refused (stb then fails with "outofmem") above the limit the
// decoding call set: a few KB of PNG can inflate without end (fuzz_image found one asking 2 GiB).
void* limited_malloc(size_t n) { return n > sn::detail::stb_allocation_limit ? nullptr : std::malloc(n); }
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
