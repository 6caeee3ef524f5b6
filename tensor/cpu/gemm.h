// General matrix multiply, BLAS-style, row-major:
//
//     C[M x N] = alpha * op(A)[M x K] * op(B)[K x N] + beta * C
//
// op(X) is X or its transpose. Row-major with leading dimensions: element (i, j) of a matrix X
// stored with leading dimension ldx is X[i * ldx + j]. So with Trans::No, A is M x K (lda >= K);
// with Trans::Yes, A is stored K x M (lda >= M) and op(A) = A^T. Same for B; C is M x N (ldc >= N).
// As in BLAS, beta == 0 means C is not read (NaNs in it are overwritten).
//
// float32 runs on our own packed, register-blocked, threaded SGEMM for the active ISA
// (tensor/cpu/isa.h), or on OpenBLAS when STYLENET_GEMM=openblas / set_gemm_backend(). With the
// ISA forced to Ref it runs sgemm_ref. float64 always runs the reference (or OpenBLAS).
#pragma once
#include <cstdint>
#include <memory>

#include "tensor/cpu/isa.h"

namespace sn::cpu {

enum class Trans : bool { No = false, Yes = true };

void sgemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void dgemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
           int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

// The micro-panel layout of both packed operands, for element (i, k) with i along the panels (A's
// rows, B's columns) and k the K dimension: k blocks of kc, each holding every panel of `panel`
// lines for those k (the lines padded to `padded`), k-major inside a panel.
inline int64_t panel_offset(int64_t i, int64_t k, int64_t K, int64_t panel, int64_t kc, int64_t padded) {
  const int64_t pc = k / kc * kc, kb = K - pc < kc ? K - pc : kc;
  return pc * padded + i / panel * panel * kb + (k - pc) * panel + i % panel;
}

// Where element (i, k) of an M x K matrix A goes in PackedA's packed copy, for a producer that
// writes it there itself (PackedA::adopt) instead of writing A and then packing it: panels of mr
// rows (panel_offset), rows from M up to m_padded zero. mr == 0: A row-major with lda = K, for the
// backends that read A itself (OpenBLAS, Ref).
struct PackedALayout {
  int64_t M = 0, K = 0;
  int64_t mr = 0, kc = 0, m_padded = 0;
  size_t floats() const { return static_cast<size_t>((mr ? m_padded : M) * K); }
  int64_t offset(int64_t i, int64_t k) const { return mr ? panel_offset(i, k, K, mr, kc, m_padded) : i * K + k; }
};

// Where element (k, n) of a K x N matrix B goes in the packed form our SGEMM multiplies, for a
// producer that writes B there itself instead of writing B and having each SGEMM pack it (the
// Winograd input transform: packing its V was 3 % of a VGG16 forward pass): panels of nr columns
// (panel_offset). Of the last panel's columns past N the kernels read those up to N rounded up to
// their vector width, at most 16 floats, which must be zero; the rest are never read. nr == 0: B
// row-major with ldb = N (the backends that read B itself).
struct PackedBLayout {
  int64_t K = 0, N = 0;
  int64_t nr = 0, kc = 0, n_padded = 0;
  size_t floats() const { return static_cast<size_t>((nr ? n_padded : N) * K); }
  int64_t offset(int64_t k, int64_t n) const { return nr ? panel_offset(n, k, K, nr, kc, n_padded) : k * N + n; }
};
// The layout a K x N B takes with the current ISA and backend.
PackedBLayout packed_b_layout(int64_t K, int64_t N);

struct GemmPart;

// op(A) packed once into the micro-panel layout, for several SGEMMs that share it: a
// convolution's weights are the A of every im2col band and every image of the batch, and packing
// them again for each of those GEMMs cost 9% of a VGG16 forward pass. A must stay alive and
// unchanged while the PackedA is used (the OpenBLAS and Ref paths read it directly), and the ISA
// and backend must not change in between (sgemm_packed then falls back to plain sgemm).
class PackedA {
 public:
  // Packs op(A) into a buffer of its own (none with OpenBLAS or Ref, which read A itself).
  PackedA(Trans ta, int64_t M, int64_t K, const float* A, int64_t lda);
  ~PackedA();
  PackedA(PackedA&&) noexcept;
  PackedA(const PackedA&) = delete;
  PackedA& operator=(const PackedA&) = delete;
  PackedA& operator=(PackedA&&) = delete;

  // Bytes of the copy of A it owns (0 when it was adopted, or reads A itself: OpenBLAS, Ref, or an
  // empty A).
  size_t packed_bytes() const;
  // The layout an M x K A (not transposed) takes with the current ISA and backend.
  static PackedALayout layout(int64_t M, int64_t K);
  // A written by the caller in `layout` (made by layout() with the same ISA and backend) at
  // `data`, which the caller keeps alive and unchanged while this is used.
  static PackedA adopt(const PackedALayout& layout, const float* data);

 private:
  friend void sgemm_packed(const PackedA&, Trans, int64_t, float, const float*, int64_t, float, float*, int64_t);
  friend void sgemm_packed(const PackedA&, const PackedBLayout&, const float*, float, float, float*, int64_t,
                           const float*);
  friend void sgemm_packed_part(const PackedA&, const PackedBLayout&, const float*, float, float, float*, int64_t,
                                const GemmPart&, const float*);
  struct Impl;
  explicit PackedA(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};
// C[M x N] = alpha * op(A) * op(B) + beta * C with op(A) from `a`: the same bits as sgemm.
void sgemm_packed(const PackedA& a, Trans tb, int64_t N, float alpha, const float* B, int64_t ldb, float beta,
                  float* C, int64_t ldc);

// C[M x N] = alpha * A * B + beta * C with A from `a` (not transposed) and B (a.K x bl.N) written
// in `bl` (made by packed_b_layout with the same ISA and backend) at 64-byte aligned `B` (the
// kernels load its panels aligned): the same bits as sgemm. `next_b`, if given, is the B (same
// layout) of the GEMM this thread runs next: the start of it is asked into the cache during this
// one's last blocks (a hint only; never read, any address will do).
void sgemm_packed(const PackedA& a, const PackedBLayout& bl, const float* B, float alpha, float beta, float* C,
                  int64_t ldc, const float* next_b = nullptr);

// Rows [r0, r1) and columns [n0, n1) of C = alpha * A * B + beta * C as sgemm_packed(a, bl, B, ...)
// computes them (the same bits), on the calling thread: for a caller that shares the products out
// among its threads itself, each thread keeping to one part of C from one product to the next
// (the Winograd convolution: tensor/cpu/winograd.cpp). r0 must be a multiple of the rows of A's
// panels (PackedA::layout(...).mr) and n0 of B's panel columns (bl.nr), where those are not 0.
struct GemmPart {
  int64_t r0, r1, n0, n1;
};
void sgemm_packed_part(const PackedA& a, const PackedBLayout& bl, const float* B, float alpha, float beta, float* C,
                       int64_t ldc, const GemmPart& part, const float* next_b = nullptr);

// op(B) made on demand, a block of columns at a time, instead of read from memory: for an operand
// that exists only as a rule (a convolution's im2col matrix in the backward-weights GEMM), which
// our SGEMM then packs straight from its source, never writing the whole matrix out.
class BColumnSource {
 public:
  virtual ~BColumnSource() = default;
  // Columns [n0, n0 + nb) of op(B), rows [k0, k0 + kb): column n0 + l at lines + l * kb.
  virtual void columns(int64_t k0, int64_t kb, int64_t n0, int64_t nb, float* lines) const = 0;
};
// C = alpha * op(A) * op(B) + beta * C, op(B) (K x N) from `b`, on our SGEMM, with the bits sgemm
// gives for the same op(B) in memory. False (nothing done) where another backend or the Ref ISA
// runs: the caller then makes op(B) in memory and calls sgemm.
bool sgemm_b_columns(Trans ta, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                     const BColumnSource& b, float beta, float* C, int64_t ldc);

// The readable definitions: one dot product per element, accumulated in double. Single-threaded.
void sgemm_ref(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
               int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void dgemm_ref(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
               int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

// Which implementation sgemm/dgemm call. Default: STYLENET_GEMM=own|openblas, else Own.
enum class GemmBackend { Own, OpenBlas };
const char* gemm_backend_name(GemmBackend b);
GemmBackend gemm_backend();
void set_gemm_backend(GemmBackend b);
// OpenBLAS's own name for the kernel set it picked ("SkylakeX", "Haswell", ...). OpenBLAS 0.3.21
// does not know some newer Xeons and falls back to "Prescott" (SSE3); OPENBLAS_CORETYPE=SkylakeX
// in the environment before start-up fixes that.
const char* openblas_core_name();

// Register and cache blocking of our SGEMM for an ISA (mr = nr = 0 for Ref, which has none).
struct GemmBlocking {
  int mr = 0, nr = 0;           // micro-tile of C held in registers
  int64_t mc = 0, kc = 0, nc = 0;  // cache blocks, upper bounds: gemm_loop cuts K into equal blocks of
                                   // at most kc and sizes the B block to L2 (k_block, b_block_cols)
};
GemmBlocking gemm_blocking(Isa isa);

}  // namespace sn::cpu
