// The serial Goto/BLIS loop nest that multiplies one tile of C (gemm_loop.cpp), and the operands
// the SGEMM driver (gemm.cpp) hands it: A packed here or already (PrePackedA), B strided, produced
// column by column or already packed (BOperand). Not part of the public API.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>

#include "tensor/cpu/gemm.h"
#include "tensor/cpu/gemm_internal.h"

namespace sn::cpu::gemm_detail {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Grow-only, 64-byte aligned packing buffers, one pair per TBB thread (tiles never nest, so a
// thread uses its pair for one tile at a time). Kept between calls: re-allocating megabytes per call
// would cost page faults on every GEMM.
class PackBuffers {
 public:
  ~PackBuffers() {
    ::operator delete(a_, std::align_val_t{64});
    ::operator delete(b_, std::align_val_t{64});
    ::operator delete(lines_, std::align_val_t{64});
  }
  float* a(size_t n) { return grow(a_, a_cap_, n); }
  float* b(size_t n) { return grow(b_, b_cap_, n); }
  float* lines(size_t n) { return grow(lines_, lines_cap_, n); }  // a BColumnSource's columns

 private:
  static float* grow(float*& p, size_t& cap, size_t n) {
    if (n > cap) {
      ::operator delete(p, std::align_val_t{64});
      p = static_cast<float*>(::operator new(n * sizeof(float), std::align_val_t{64}));
      cap = n;
    }
    return p;
  }
  float *a_ = nullptr, *b_ = nullptr, *lines_ = nullptr;
  size_t a_cap_ = 0, b_cap_ = 0, lines_cap_ = 0;
};

// This thread's packing buffers.
PackBuffers& pack_buffers();

// op(A) already packed for all of its rows (PackedA): the k block starting at pc holds every
// A micro-panel of the matrix for those kb values of k, so the panel of rows [r, r + mr) is at
// p + pc * m_padded + r * kb. `m0` is the first row of the tile.
struct PrePackedA {
  const float* p = nullptr;
  int64_t m_padded = 0, m0 = 0;
};

// Where gemm_tile's B panels come from: strided memory, a BColumnSource whose columns start at
// `n0` for this tile, or memory already in the packed layout (`packed`, a PackedBLayout with
// n_padded columns, this tile's from column n0).
struct BOperand {
  Strided strided{};
  const BColumnSource* source = nullptr;
  int64_t n0 = 0;
  const float* packed = nullptr;
  int64_t n_padded = 0;
  const float* next_packed = nullptr;  // the caller's next GEMM's B, in the same layout (NextBlock)

  BOperand tile(int64_t n) const {
    return {{strided.at(0, n), strided.rs, strided.cs}, source, n0 + n, packed, n_padded, next_packed};
  }
  // The kb x nb block at (pc, jc) as B micro-panels: packed into dst, or where they already are.
  const float* pack(int64_t pc, int64_t kb, int64_t jc, int64_t nb, int nr, float* dst, PackBuffers& buf) const {
    if (packed) return packed + pc * n_padded + (n0 + jc) * kb;  // n0, jc: whole panels
    if (!source) {
      pack_b({strided.at(pc, jc), strided.rs, strided.cs}, kb, nb, nr, dst);
      return dst;
    }
    float* lines = buf.lines(static_cast<size_t>(nr * kb));
    const float* panels = dst;
    for (int64_t j0 = 0; j0 < nb; j0 += nr, dst += kb * nr) {
      const int n = static_cast<int>(std::min<int64_t>(nr, nb - j0));
      source->columns(pc, kb, n0 + jc + j0, n, lines);
      pack_b_lines(lines, kb, n, nr, dst);
    }
    return panels;
  }
};

// The k block of a product K long: K cut into the fewest blocks of at most ks.kc, of one length
// (the last up to one shorter), so no short last block re-reads and re-writes every C tile for a
// few k (with kc = 512: K = 576 as 288 + 288, not 512 + 64). Every packed layout and the loop nest
// take it from here.
inline int64_t k_block(const KernelSet& ks, int64_t K) { return K <= ks.kc ? K : ceil_div(K, ceil_div(K, ks.kc)); }

// C[0:M, 0:N] = alpha * op(A) * B + beta * C on this thread (the loop nest of gemm_loop.cpp): A
// strided and packed here a block at a time, or pre-packed (pre.p).
void gemm_tile(const KernelSet& ks, int64_t M, int64_t N, int64_t K, float alpha, Strided A,
               const BOperand& B, float beta, float* C, int64_t ldc, PrePackedA pre = {});

}  // namespace sn::cpu::gemm_detail
