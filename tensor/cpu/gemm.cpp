// SGEMM driver: argument checks, backend/ISA dispatch, Goto/BLIS cache blocking and threading.
//
// Loop nest for one tile of C (gemm_tile), with the roles of the caches:
//
//   for ic in M step mc:             A block  op(A)[ic:+mc, pc:+kc] packed  -> L3
//     for pc in K step kc:
//       pack A block
//       for jc in N step nc:         B block  op(B)[pc:+kc, jc:+nc] packed  -> L2 (a quarter of it)
//         pack B block
//         for ir in mc step mr:      A micro-panel (mr x kc)                 -> L1, reused nc/nr times
//           for jr in nc step nr:    B micro-panel (kc x nr) streams from L2
//             micro-kernel: C[ir:+mr, jr:+nr] += A micro-panel * B micro-panel
//
// This is BLIS's order with A and B swapped, because C is row-major and the micro-kernel's vectors
// run along N: the operand that is broadcast (A) is the one kept in L1, the one loaded as vectors
// (B) streams from L2. mc is large so that B, the big operand of an im2col convolution
// (Cin*9 x H*W), is packed only once.
//
// Threading: C is cut into a grid of tiles, one per thread, each running the loop nest above with
// its own packing buffers. Cutting N re-packs A in every column of tiles, cutting M re-packs B in
// every row, so the grid is chosen to minimise the largest tile's compute plus its packing. Every
// element of C is summed in the same order whatever the grid (same kc blocks, same k order), so
// the result does not depend on the thread count at all.
#include "tensor/cpu/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include <oneapi/tbb/enumerable_thread_specific.h>

#include "tensor/cpu/gemm_internal.h"
#include "tensor/cpu/isa.h"
#include "tensor/cpu/parallel.h"
#include "tensor/cpu/tsan.h"
#include "tensor/cpu/workspace.h"
#include "tensor/error.h"

namespace sn::cpu {

namespace gemm_detail {
void openblas_sgemm(Trans, Trans, int64_t, int64_t, int64_t, float, const float*, int64_t,
                    const float*, int64_t, float, float*, int64_t);
void openblas_dgemm(Trans, Trans, int64_t, int64_t, int64_t, double, const double*, int64_t,
                    const double*, int64_t, double, double*, int64_t);
}  // namespace gemm_detail

using namespace gemm_detail;

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

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

PackBuffers& pack_buffers() {
#ifdef SN_TSAN
  thread_local PackBuffers buffers;  // see tensor/cpu/tsan.h
  return buffers;
#else
  static tbb::enumerable_thread_specific<PackBuffers> buffers;
  return buffers.local();
#endif
}

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
int64_t k_block(const KernelSet& ks, int64_t K) { return K <= ks.kc ? K : ceil_div(K, ceil_div(K, ks.kc)); }

// Columns of a B block of kc rows: as many whole panels as fill a quarter of this core's L2, at
// most ks.nc. Each A micro-panel sweeps the block from L2, so the block must stay there with C's
// tiles and the next panels beside it; where B is the large operand (the weights of a GEMM with
// the tiles as rows) a small block is also reused while the hardware prefetcher streams in the
// next. On this 1 MiB-L2 EPYC the fixed nc = 640 made a 768 KiB block of VGG16 conv4_2's
// transformed weights (then kc = 384): stylenet_bench_gemm BM_WinogradGemm c512_t49
// tiles_x_weights (1 thread) 5.72 / 6.22 -> 5.26 / 5.18 ms with a quarter (160 columns); a half or
// an eighth were slower in a harness of the same GEMMs (6.2 and 5.6 against 5.5 ms). Only whole
// panels, and the k blocks do not depend on it: the same bits.
int64_t b_block_cols(const KernelSet& ks, int64_t kc) {
  const int64_t fit = l2_cache_bytes() / 4 / (kc * int64_t{sizeof(float)}) / ks.nr * ks.nr;
  return std::clamp<int64_t>(fit, ks.nr, ks.nc);
}

// The pre-packed B block that follows the one at (pc, jc), handed out to the micro-kernel calls
// that sweep the current block from L2 (every A micro-panel's but the first, which reads it from
// memory) a slice of kb lines each, so it is in L2 when its own first sweep comes: the next
// columns of this k block, else the next k block's first, else (the last block of the last rows)
// the first of the caller's next GEMM (BOperand::next_packed; the Winograd convolutions' next
// position) or (more rows to come) this B's first again. Where B is the operand
// streamed from memory (the weights of a GEMM with the tiles as rows) its first sweep otherwise
// waits on memory: VGG16 at 224, 10 ABBA rounds (stylenet_vgg_bench --layers 1), conv4_x 3.40 /
// 6.46 / 6.41 -> 3.13 / 5.82 / 5.83 ms on 1 thread, 1.98 / 3.59 / 3.51 -> 1.81 / 3.27 / 3.19 on 2;
// conv3_x, whose next V is asked for, -0.01..-0.10. A prefetch in every call, even of lines already
// in the cache, cost 8 % (hence null where there is nothing to ask). Packed on the fly, B has no
// next block to ask for.
class NextBlock {
 public:
  NextBlock(const BOperand& b, int64_t pc, int64_t kb, int64_t jc, int64_t K, int64_t N, int64_t kc,
            int64_t nc, int nr, bool more_rows) {
    if (!b.packed) return;
    if (jc + nc < N) {
      p_ = b.packed + pc * b.n_padded + (b.n0 + jc + nc) * kb;
      floats_ = kb * round_up(std::min(nc, N - jc - nc), nr);
    } else if (pc + kc < K) {
      const int64_t kb_next = std::min(kc, K - pc - kc);
      p_ = b.packed + (pc + kc) * b.n_padded + b.n0 * kb_next;
      floats_ = kb_next * round_up(std::min(nc, N), nr);
    } else if (const float* first = more_rows ? b.packed : b.next_packed) {
      p_ = first + b.n0 * std::min(kc, K);
      floats_ = std::min(kc, K) * round_up(std::min(nc, N), nr);
    }
  }
  // What a call on A micro-panel `ir` asks for: the next kb lines not yet asked, or nothing.
  const float* slice(int64_t ir, int64_t kb) {
    if (!p_ || ir == 0 || done_ >= floats_) return nullptr;
    const float* p = p_ + done_;
    done_ += kb * kLineFloats;
    return p;
  }

 private:
  const float* p_ = nullptr;
  int64_t floats_ = 0, done_ = 0;
};

// The narrow kernel's calls for a block's last B panel (KernelSet::narrow): fed the A micro-panels
// in order as the loop over them reaches each (its A panel still in L1), it runs them two at a
// time, a panel of more than mr rows (a folded last one) alone.
struct NarrowPairs {
  const KernelSet& ks;
  int64_t kb;
  const float* pa;  // the block's A micro-panels
  const float* b;   // the narrow B panel
  float* c;         // C at the block's first row, the panel's first column
  int64_t ldc;
  float alpha, beta;
  int n;
  int64_t pending = -1;  // a full panel's first row, waiting for the next

  void run(int64_t ir, int m) const { ks.narrow(kb, pa + ir * kb, b, c + ir * ldc, ldc, alpha, beta, m, n); }
  void panel(int64_t ir, int m, bool last) {
    if (pending >= 0 && m <= ks.mr) {
      run(pending, ks.mr + m);
      pending = -1;
      return;
    }
    if (pending >= 0) run(pending, ks.mr);
    pending = -1;
    if (m == ks.mr && !last) pending = ir;
    else run(ir, m);
  }
};

// Whether the micro-kernel asks for A ahead (MicroKernel's a_streams): A is pre-packed (read
// where it lies, not packed into this core's cache first) and B has at most kStreamedAPanels
// panels, so each A micro-panel serves that many tiles and the k loop runs through A about as fast
// as through B; the hardware prefetch did not keep up. The Winograd thread blocks (32 or 64
// tiles) multiply their whole U, from L3, by each block's V. VGG16 at 224 (scripts/ab-vgg-layers.py,
// ABBA): 1 thread pinned, 6 rounds, conv1_2 8.25 -> 7.95 ms, conv2_1 3.97 -> 3.79, conv2_2 6.36 ->
// 6.04, conv3_1 3.67 -> 3.51; 2 threads, 10 rounds, 4.46 -> 4.39, 2.17 -> 2.11, 3.45 -> 3.33, 2.01
// -> 1.96; AVX2 level. Other GEMMs: A packed here (in cache) or B wide (A reused from L1).
constexpr int64_t kStreamedAPanels = 2;
bool streams_a(const KernelSet& ks, int64_t N, const PrePackedA& pre) {
  return pre.p && N <= kStreamedAPanels * ks.nr;
}

// The serial Goto loop nest for C[0:M, 0:N] (see the top of this file).
void gemm_tile(const KernelSet& ks, int64_t M, int64_t N, int64_t K, float alpha, Strided A,
               const BOperand& B, float beta, float* C, int64_t ldc, PrePackedA pre = {}) {
  PackBuffers& buf = pack_buffers();
  const int64_t mc = std::min(ks.mc, round_up(M, ks.mr));
  const int64_t kc = k_block(ks, K);
  const int64_t nc = std::min(b_block_cols(ks, kc), round_up(N, ks.nr));
  float* own_a = pre.p ? nullptr : buf.a(mc * kc);
  const float* pa = own_a;
  float* pb = B.packed ? nullptr : buf.b(kc * nc);
  const bool a_streams = streams_a(ks, N, pre);
  for (int64_t ic = 0; ic < M; ic += mc) {
    const int64_t mb = std::min(mc, M - ic);
    for (int64_t pc = 0; pc < K; pc += kc) {
      const int64_t kb = std::min(kc, K - pc);
      const float beta_k = pc == 0 ? beta : 1.0f;  // later k blocks accumulate onto the first
      if (pre.p)
        pa = pre.p + pc * pre.m_padded + (pre.m0 + ic) * kb;
      else
        pack_a({A.at(ic, pc), A.rs, A.cs}, mb, kb, ks.mr, own_a);
      for (int64_t jc = 0; jc < N; jc += nc) {
        const int64_t nb = std::min(nc, N - jc);
        const float* bp = B.pack(pc, kb, jc, nb, ks.nr, pb, buf);
        NextBlock next(B, pc, kb, jc, K, N, kc, nc, ks.nr, ic + mc < M);
        // A last B panel narrow enough for the narrow kernel: its columns run there, for two A
        // micro-panels at a time (NarrowPairs), not in the loop over jr.
        const int64_t tail = nb % ks.nr, wide_end = tail && tail <= ks.narrow_max ? nb - tail : nb;
        NarrowPairs narrow{ks, kb, pa, bp + wide_end * kb, C + ic * ldc + jc + wide_end, ldc, alpha, beta_k,
                           static_cast<int>(tail)};
        for (int64_t ir = 0; ir < mb;) {
          int m = static_cast<int>(std::min<int64_t>(ks.mr, mb - ir));
          // The last panel's rows with these, when few (see KernelSet::m_fold): no pass of their own.
          if (const int64_t left = mb - ir - m; m == ks.mr && left <= ks.m_fold) m += static_cast<int>(left);
          const float* a_panel = pa + ir * kb;
          float* c_row = C + (ic + ir) * ldc + jc;
          for (int64_t jr = 0; jr < wide_end; jr += ks.nr) {
            const int n = static_cast<int>(std::min<int64_t>(ks.nr, nb - jr));
            // With no B block to ask for, the call that starts an A micro-panel asks for the next
            // (mr x kb floats, fewer lines than its kb steps). 8 ABBA rounds: conv3_x -0.08..-0.18
            // ms on 1 thread, conv2_2, conv3_x, conv4_x -0.06..-0.12 on 2; the pass 56.87 -> 56.30
            // and 32.23 -> 31.48 ms.
            const float* pf = next.slice(ir, kb);
            if (!pf && jr == 0 && ir + m < mb) pf = a_panel + m * kb;
            ks.kernel(kb, a_panel, bp + jr * kb, c_row + jr, ldc, alpha, beta_k, m, n, pf, a_streams);
          }
          if (wide_end < nb) narrow.panel(ir, m, ir + m >= mb);
          ir += m;
        }
      }
    }
  }
}

// Packing one element costs about as much as this many FMA lanes (a vector copy from L3/DRAM vs
// 32 FMA lanes per cycle): used to weigh re-packing against load balance when choosing the grid.
constexpr double kPackCost = 16.0;
// Below this many multiply-adds a GEMM runs on one thread: waking workers costs more.
constexpr double kMinParallelWork = 1 << 18;

struct Grid {
  int64_t pm = 1, pn = 1;  // tiles along M and N
};

Grid choose_grid(const KernelSet& ks, int64_t M, int64_t N, int64_t K, int threads, bool a_packed = false) {
  if (threads <= 1 || double(M) * N * K < kMinParallelWork) return {};
  const int64_t mu = ceil_div(M, ks.mr), nu = ceil_div(N, ks.nr);  // in micro-tiles
  Grid best;
  double best_cost = -1;
  for (int64_t pm = 1; pm <= threads; ++pm) {
    if (threads % pm) continue;
    const int64_t pn = threads / pm;
    if (pm > mu || pn > nu) continue;
    // The largest tile, rounded to whole micro-tiles (edge tiles compute their padding rows).
    const double tm = double(ceil_div(mu, pm) * ks.mr), tn = double(ceil_div(nu, pn) * ks.nr);
    const double cost = tm * tn * K + kPackCost * ((a_packed ? 0.0 : tm * K) + K * tn);
    if (best_cost < 0 || cost < best_cost) best = {pm, pn}, best_cost = cost;
  }
  return best;
}

const KernelSet* kernels_for(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return &avx512_kernels();
    case Isa::Avx2: return &avx2_kernels();
    case Isa::Ref: return nullptr;
  }
  return nullptr;
}

void sgemm_own(const KernelSet& ks, Trans ta, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
               int64_t lda, const BOperand& b, float beta, float* C, int64_t ldc, const float* prepacked = nullptr) {
  const Strided a = ta == Trans::Yes ? Strided{A, 1, lda} : Strided{A, lda, 1};
  const Grid g = choose_grid(ks, M, N, K, threads_here(), prepacked != nullptr);
  const int64_t mu = ceil_div(M, ks.mr), nu = ceil_div(N, ks.nr);
  // Tile t covers micro-tile rows [mu*i/pm, mu*(i+1)/pm) and columns likewise.
  parallel_for(0, g.pm * g.pn, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t i = t / g.pn, j = t % g.pn;
      const int64_t m0 = std::min(M, mu * i / g.pm * ks.mr), m1 = std::min(M, mu * (i + 1) / g.pm * ks.mr);
      const int64_t n0 = std::min(N, nu * j / g.pn * ks.nr), n1 = std::min(N, nu * (j + 1) / g.pn * ks.nr);
      if (m0 >= m1 || n0 >= n1) continue;
      gemm_tile(ks, m1 - m0, n1 - n0, K, alpha, {a.at(m0, 0), a.rs, a.cs}, b.tile(n0), beta, C + m0 * ldc + n0,
                ldc, {prepacked, round_up(M, ks.mr), m0});
    }
  });
}

BOperand strided_b(Trans tb, const float* B, int64_t ldb) {
  return {tb == Trans::Yes ? Strided{B, 1, ldb} : Strided{B, ldb, 1}};
}

template <class T>
void check_args(const char* op, Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, int64_t lda,
                int64_t ldb, int64_t ldc) {
  SN_CHECK(M >= 0 && N >= 0 && K >= 0, op, ": negative size M=", M, " N=", N, " K=", K);
  const int64_t a_cols = ta == Trans::Yes ? M : K, b_cols = tb == Trans::Yes ? K : N;
  SN_CHECK(lda >= std::max<int64_t>(1, a_cols), op, ": lda=", lda, " < ", a_cols);
  SN_CHECK(ldb >= std::max<int64_t>(1, b_cols), op, ": ldb=", ldb, " < ", b_cols);
  SN_CHECK(ldc >= std::max<int64_t>(1, N), op, ": ldc=", ldc, " < ", N);
}

// Cases with no product to compute: C = beta * C (beta == 0 writes zeros without reading C).
template <class T>
bool trivial_gemm(int64_t M, int64_t N, int64_t K, T alpha, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return true;
  if (K != 0 && alpha != T(0)) return false;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
  return true;
}

GemmBackend backend_from_env() {
  const char* env = std::getenv("STYLENET_GEMM");
  if (!env || !*env || std::string(env) == "own") return GemmBackend::Own;
  if (std::string(env) == "openblas") return GemmBackend::OpenBlas;
  throw Error(detail::cat("STYLENET_GEMM='", env, "' is not a GEMM backend (expected own or openblas)"));
}

std::atomic<int>& backend_state() {  // -1: not yet read from the environment
  static std::atomic<int> b{-1};
  return b;
}

}  // namespace

const char* gemm_backend_name(GemmBackend b) { return b == GemmBackend::Own ? "own" : "openblas"; }

GemmBackend gemm_backend() {
  int v = backend_state().load(std::memory_order_relaxed);
  if (v < 0) {
    int expected = -1;
    backend_state().compare_exchange_strong(expected, static_cast<int>(backend_from_env()));
    v = backend_state().load(std::memory_order_relaxed);
  }
  return static_cast<GemmBackend>(v);
}

void set_gemm_backend(GemmBackend b) { backend_state().store(static_cast<int>(b)); }

GemmBlocking gemm_blocking(Isa isa) {
  const KernelSet* ks = kernels_for(isa);
  if (!ks) return {};
  return {ks->mr, ks->nr, ks->mc, ks->kc, ks->nc};
}

void sgemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  check_args<float>("sgemm", ta, tb, M, N, K, lda, ldb, ldc);
  if (trivial_gemm(M, N, K, alpha, beta, C, ldc)) return;
  if (gemm_backend() == GemmBackend::OpenBlas)
    return openblas_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  if (const KernelSet* ks = kernels_for(active_isa()))
    return sgemm_own(*ks, ta, M, N, K, alpha, A, lda, strided_b(tb, B, ldb), beta, C, ldc);
  sgemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

bool sgemm_b_columns(Trans ta, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                     const BColumnSource& b, float beta, float* C, int64_t ldc) {
  const KernelSet* ks = gemm_backend() == GemmBackend::Own ? kernels_for(active_isa()) : nullptr;
  if (!ks) return false;
  check_args<float>("sgemm_b_columns", ta, Trans::No, M, N, K, lda, std::max<int64_t>(N, 1), ldc);
  if (trivial_gemm(M, N, K, alpha, beta, C, ldc)) return true;
  sgemm_own(*ks, ta, M, N, K, alpha, A, lda, BOperand{{}, &b, 0}, beta, C, ldc);
  return true;
}

struct PackedA::Impl {
  Trans ta;
  int64_t M, K, lda;
  const float* A;
  const KernelSet* ks;                   // null: not packed (OpenBLAS or Ref run on A itself)
  std::unique_ptr<WorkspaceLease> owned;  // when the caller gave no memory
  float* packed = nullptr;                // the layout of PrePackedA
};

namespace {
// The kernels PackedA packs for now; null when it does not pack.
const KernelSet* packing_kernels(int64_t M, int64_t K) {
  const KernelSet* ks = gemm_backend() == GemmBackend::Own ? kernels_for(active_isa()) : nullptr;
  return ks && M > 0 && K > 0 ? ks : nullptr;
}
}  // namespace

PackedA::PackedA(Trans ta, int64_t M, int64_t K, const float* A, int64_t lda)
    : impl_(new Impl{ta, M, K, lda, A, nullptr, nullptr}) {
  SN_CHECK(M >= 0 && K >= 0 && lda >= std::max<int64_t>(1, ta == Trans::Yes ? M : K),
           "PackedA: bad sizes M=", M, " K=", K, " lda=", lda);
  const PackedALayout layout = PackedA::layout(M, K);
  if (!layout.mr) return;
  const int64_t mp = layout.m_padded, kc = layout.kc;
  impl_->ks = packing_kernels(M, K);
  impl_->owned = std::make_unique<WorkspaceLease>(layout.floats());
  float* dst = impl_->packed = impl_->owned->data();
  const Strided a = ta == Trans::Yes ? Strided{A, 1, lda} : Strided{A, lda, 1};
  // One task per k block; each writes its own part of the buffer.
  parallel_for(0, ceil_div(K, kc), 1, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t pc = blk * kc, kb = std::min(kc, K - pc);
      pack_a({a.at(0, pc), a.rs, a.cs}, M, kb, layout.mr, dst + pc * mp);
    }
  });
}

PackedALayout PackedA::layout(int64_t M, int64_t K) {
  const KernelSet* ks = packing_kernels(M, K);
  if (!ks) return {M, K};
  return {M, K, ks->mr, k_block(*ks, K), round_up(M, ks->mr)};
}

PackedA::PackedA(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PackedA PackedA::adopt(const PackedALayout& layout, const float* data) {
  if (!layout.mr) return PackedA(Trans::No, layout.M, layout.K, data, std::max<int64_t>(layout.K, 1));
  const KernelSet* ks = packing_kernels(layout.M, layout.K);
  SN_CHECK(ks && ks->mr == layout.mr && k_block(*ks, layout.K) == layout.kc,
           "PackedA::adopt: the data was laid out for another ISA or GEMM backend than the one now active");
  // A itself is not kept: nothing reads it while the ISA and backend stay the same.
  const int64_t lda = std::max<int64_t>(layout.K, 1);
  return PackedA(std::unique_ptr<Impl>(
      new Impl{Trans::No, layout.M, layout.K, lda, nullptr, ks, nullptr, const_cast<float*>(data)}));
}

PackedA::~PackedA() = default;
PackedA::PackedA(PackedA&&) noexcept = default;
size_t PackedA::packed_bytes() const {
  return impl_->owned ? static_cast<size_t>(round_up(impl_->M, impl_->ks->mr) * impl_->K) * sizeof(float) : 0;
}

void sgemm_packed(const PackedA& pa, Trans tb, int64_t N, float alpha, const float* B, int64_t ldb, float beta,
                  float* C, int64_t ldc) {
  const PackedA::Impl& a = *pa.impl_;
  const KernelSet* ks = gemm_backend() == GemmBackend::Own ? kernels_for(active_isa()) : nullptr;
  if (!a.ks || ks != a.ks) {
    SN_CHECK(a.A || a.M == 0 || a.K == 0,
             "sgemm_packed: the ISA or GEMM backend changed since this adopted PackedA was made");
    return sgemm(a.ta, tb, a.M, N, a.K, alpha, a.A, a.lda, B, ldb, beta, C, ldc);
  }
  check_args<float>("sgemm_packed", a.ta, tb, a.M, N, a.K, a.lda, ldb, ldc);
  if (trivial_gemm(a.M, N, a.K, alpha, beta, C, ldc)) return;
  sgemm_own(*ks, a.ta, a.M, N, a.K, alpha, a.A, a.lda, strided_b(tb, B, ldb), beta, C, ldc, a.packed);
}

PackedBLayout packed_b_layout(int64_t K, int64_t N) {
  PackedBLayout l;
  l.K = K, l.N = N;
  const KernelSet* ks = packing_kernels(N, K);
  if (!ks) return l;
  l.nr = ks->nr, l.kc = k_block(*ks, K), l.n_padded = round_up(N, ks->nr);
  return l;
}

namespace {
// The kernels that multiply a packed B (layout bl, at B) by a PackedA packed for `a_ks`, after
// checking that they are still the active ones and B is aligned as they load it.
const KernelSet& packed_b_kernels(const KernelSet* a_ks, const PackedBLayout& bl, const float* B) {
  const KernelSet* ks = gemm_backend() == GemmBackend::Own ? kernels_for(active_isa()) : nullptr;
  SN_CHECK(ks && a_ks == ks && ks->nr == bl.nr && k_block(*ks, bl.K) == bl.kc,
           "sgemm_packed: the ISA or GEMM backend changed since B's packed layout was made");
  SN_CHECK(reinterpret_cast<uintptr_t>(B) % 64 == 0, "sgemm_packed: packed B must be 64-byte aligned");
  return *ks;
}
}  // namespace

void sgemm_packed(const PackedA& pa, const PackedBLayout& bl, const float* B, float alpha, float beta, float* C,
                  int64_t ldc, const float* next_b) {
  const PackedA::Impl& a = *pa.impl_;
  SN_CHECK(a.ta == Trans::No && bl.K == a.K, "sgemm_packed: B is ", bl.K, " x ", bl.N, ", A is ", a.M, " x ", a.K);
  if (!bl.nr) return sgemm_packed(pa, Trans::No, bl.N, alpha, B, std::max<int64_t>(bl.N, 1), beta, C, ldc);
  const KernelSet& ks = packed_b_kernels(a.ks, bl, B);
  check_args<float>("sgemm_packed", Trans::No, Trans::No, a.M, bl.N, a.K, a.lda, std::max<int64_t>(bl.N, 1), ldc);
  if (trivial_gemm(a.M, bl.N, a.K, alpha, beta, C, ldc)) return;
  BOperand b;
  b.packed = B, b.n_padded = bl.n_padded, b.next_packed = next_b;
  sgemm_own(ks, Trans::No, a.M, bl.N, a.K, alpha, a.A, a.lda, b, beta, C, ldc, a.packed);
}

void sgemm_packed_part(const PackedA& pa, const PackedBLayout& bl, const float* B, float alpha, float beta, float* C,
                       int64_t ldc, const GemmPart& part, const float* next_b) {
  const PackedA::Impl& a = *pa.impl_;
  SN_CHECK(a.ta == Trans::No && bl.K == a.K, "sgemm_packed_part: B is ", bl.K, " x ", bl.N, ", A is ", a.M, " x ",
           a.K);
  const auto [r0, r1, n0, n1] = part;
  SN_CHECK(0 <= r0 && r0 <= r1 && r1 <= a.M && 0 <= n0 && n0 <= n1 && n1 <= bl.N, "sgemm_packed_part: part [", r0,
           ", ", r1, ") x [", n0, ", ", n1, ") is outside C (", a.M, " x ", bl.N, ")");
  SerialRegion serial;
  if (!bl.nr || !a.ks) {  // A and B as they are (OpenBLAS, Ref): the part of each
    SN_CHECK(a.A || a.M == 0 || a.K == 0,
             "sgemm_packed_part: the ISA or GEMM backend changed since this adopted PackedA was made");
    SN_CHECK(!bl.nr, "sgemm_packed_part: the ISA or GEMM backend changed since B's packed layout was made");
    const float* a0 = a.ta == Trans::Yes ? a.A + r0 : a.A + r0 * a.lda;
    return sgemm(a.ta, Trans::No, r1 - r0, n1 - n0, a.K, alpha, a0, a.lda, B + n0, std::max<int64_t>(bl.N, 1), beta,
                 C + r0 * ldc + n0, ldc);
  }
  const KernelSet& ks = packed_b_kernels(a.ks, bl, B);
  SN_CHECK(r0 % ks.mr == 0 && n0 % ks.nr == 0, "sgemm_packed_part: the part must start at a panel (rows of ", ks.mr,
           ", columns of ", ks.nr, ")");
  check_args<float>("sgemm_packed_part", Trans::No, Trans::No, a.M, bl.N, a.K, a.lda, std::max<int64_t>(bl.N, 1), ldc);
  if (r0 == r1 || n0 == n1 || trivial_gemm(r1 - r0, n1 - n0, a.K, alpha, beta, C + r0 * ldc + n0, ldc)) return;
  BOperand b;
  b.packed = B, b.n_padded = bl.n_padded, b.next_packed = next_b;
  gemm_tile(ks, r1 - r0, n1 - n0, a.K, alpha, {}, b.tile(n0), beta, C + r0 * ldc + n0, ldc,
            {a.packed, round_up(a.M, ks.mr), r0});
}

void dgemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
           int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  check_args<double>("dgemm", ta, tb, M, N, K, lda, ldb, ldc);
  if (trivial_gemm(M, N, K, alpha, beta, C, ldc)) return;
  if (gemm_backend() == GemmBackend::OpenBlas)
    return openblas_dgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  dgemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace sn::cpu
