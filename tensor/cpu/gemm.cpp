// SGEMM driver: argument checks, backend/ISA dispatch and threading; the cache-blocked loop nest
// that each thread runs on its tile of C is in gemm_loop.cpp.
//
// Threading: C is cut into a grid of tiles, one per thread, each running that loop nest with
// its own packing buffers. Cutting N re-packs A in every column of tiles, cutting M re-packs B in
// every row, so the grid is chosen to minimise the largest tile's compute plus its packing. Every
// element of C is summed in the same order whatever the grid (same kc blocks, same k order), so
// the result does not depend on the thread count at all.
#include "tensor/cpu/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "tensor/cpu/gemm_internal.h"
#include "tensor/cpu/gemm_loop.h"
#include "tensor/cpu/isa.h"
#include "tensor/cpu/parallel.h"
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
