// SGEMM: every ISA path (forced with set_isa) and thread counts 1 and 2 against the reference GEMM,
// on sizes that hit every edge of the blocking; determinism; the ISA override; matmul on top.
//
// Error bound. The reference accumulates in double, so it is the exact product up to one float32
// rounding. A float32 dot product of length K, in any summation order, with or without FMA, is
// within gamma_K = K*eps/(1 - K*eps) of exact relative to sum_k |a_ik * b_kj| (Higham, Accuracy
// and Stability, 3.1). Adding alpha/beta scaling and the final roundings, we check
//     |C - C_ref| <= (K + 3) * eps * (|alpha| * (|A| |B|)_ij + |beta * C0_ij|) + tiny
// element by element; a wrong index or a missed k block breaks it by orders of magnitude.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "tensor/cpu/gemm.h"
#include "tensor/cpu/isa.h"
#include "tensor/cpu/parallel.h"
#include "tensor/cpu/workspace.h"
#include "tensor/kernels/core.h"
#include "tensor/random.h"

using namespace sn;
using namespace sn::cpu;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// A rows x cols matrix stored with leading dimension ld; the padding past cols holds NaN, so a
// kernel that reads outside the matrix poisons its result.
std::vector<float> random_matrix(int64_t rows, int64_t cols, int64_t ld, Generator& g) {
  std::vector<float> m(static_cast<size_t>(std::max<int64_t>(rows * ld, 1)), kNaN);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) m[i * ld + j] = static_cast<float>(g.uniform(-1, 1));
  return m;
}

struct Case {
  int64_t M, N, K;
  Trans ta = Trans::No, tb = Trans::No;
  int64_t pad = 0;  // extra leading-dimension padding on A, B and C
  float alpha = 1.0f, beta = 0.0f;
};

std::string describe(const Case& c) {
  return detail::cat(c.M, "x", c.N, "x", c.K, c.ta == Trans::Yes ? " At" : "", c.tb == Trans::Yes ? " Bt" : "",
                     " pad ", c.pad, " alpha ", c.alpha, " beta ", c.beta);
}

// Runs sgemm on `c` (current ISA, threads, backend) and checks it against sgemm_ref element-wise.
// Returns C so callers can compare runs bit for bit.
std::vector<float> check_case(const Case& c, uint64_t seed = 1) {
  Generator g(seed);
  const int64_t a_rows = c.ta == Trans::Yes ? c.K : c.M, a_cols = c.ta == Trans::Yes ? c.M : c.K;
  const int64_t b_rows = c.tb == Trans::Yes ? c.N : c.K, b_cols = c.tb == Trans::Yes ? c.K : c.N;
  const int64_t lda = std::max<int64_t>(a_cols, 1) + c.pad, ldb = std::max<int64_t>(b_cols, 1) + c.pad;
  const int64_t ldc = std::max<int64_t>(c.N, 1) + c.pad;
  const std::vector<float> A = random_matrix(a_rows, a_cols, lda, g), B = random_matrix(b_rows, b_cols, ldb, g);
  std::vector<float> C0 = random_matrix(c.M, c.N, ldc, g);
  if (c.beta == 0.0f)  // BLAS: beta == 0 must not read C, so NaNs there must not leak out
    for (int64_t i = 0; i < c.M; ++i) C0[i * ldc] = kNaN;
  std::vector<float> C = C0, R = C0;

  sgemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, C.data(), ldc);
  sgemm_ref(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, R.data(), ldc);

  auto a = [&](int64_t i, int64_t k) { return c.ta == Trans::Yes ? A[k * lda + i] : A[i * lda + k]; };
  auto b = [&](int64_t k, int64_t j) { return c.tb == Trans::Yes ? B[j * ldb + k] : B[k * ldb + j]; };
  const double eps = std::numeric_limits<float>::epsilon();
  int64_t bad = 0;
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < c.N; ++j) {
      double mag = 0;
      for (int64_t k = 0; k < c.K; ++k) mag += std::abs(double(a(i, k)) * b(k, j));
      const double c0 = c.beta == 0.0f ? 0.0 : std::abs(double(c.beta) * C0[i * ldc + j]);
      const double bound = (c.K + 3) * eps * (std::abs(c.alpha) * mag + c0) + 1e-30;
      const double got = C[i * ldc + j], want = R[i * ldc + j];
      if (!(std::abs(got - want) <= bound) && bad++ < 3)
        FAIL_CHECK(describe(c), ": C(", i, ",", j, ") = ", got, ", reference ", want, ", bound ", bound);
    }
    // The padding past column N of C is not written.
    for (int64_t j = c.N; j < ldc && i * ldc + j < int64_t(C.size()); ++j)
      if (!(std::isnan(C[i * ldc + j]) && std::isnan(C0[i * ldc + j])) && C[i * ldc + j] != C0[i * ldc + j] &&
          bad++ < 3)
        FAIL_CHECK(describe(c), ": padding of C row ", i, " was written");
  }
  CHECK_MESSAGE(bad == 0, describe(c));
  return C;
}

// Sizes around every blocking boundary of both kernel sets: 1, odd, just off multiples of
// MR (6, 12) and NR (16, 32), K past KC (512: two or three equal k blocks, 513, 1000, 1025), N past
// the B block (a quarter of L2, at most 480 / 640 columns), M past MC (1536); M one
// or two past a multiple of 12 (13, 25, 37, 14, 50, 49: AVX-512 folds that last panel into the
// one before, KernelSet::m_fold).
std::vector<Case> edge_cases() {
  std::vector<Case> v = {
      {1, 1, 1},        {7, 13, 5},     {33, 65, 17},    {2, 3, 0},      {13, 47, 389},
      {25, 33, 1000},   {11, 17, 513},  {12, 32, 384},   {6, 16, 64},    {5, 31, 7},
      {100, 700, 50},   {37, 1300, 9},  {1600, 17, 9},   {64, 196, 27},  {128, 31, 385},
      {14, 40, 20},     {49, 512, 400}, {9, 40, 1025},
  };
  // Every transpose combination and padded leading dims, with alpha/beta, on odd sizes.
  for (Trans ta : {Trans::No, Trans::Yes})
    for (Trans tb : {Trans::No, Trans::Yes}) {
      v.push_back({7, 13, 5, ta, tb, 3, 1.0f, 0.0f});
      v.push_back({33, 65, 17, ta, tb, 5, 0.5f, 2.0f});
      v.push_back({29, 71, 401, ta, tb, 1, -1.5f, 1.0f});
      v.push_back({50, 650, 30, ta, tb, 2, 2.0f, -0.5f});
    }
  return v;
}

}  // namespace

TEST_CASE("sgemm: every ISA, 1 and 2 threads, matches the reference on edge sizes") {
  for (Isa isa : supported_isas()) {
    IsaScope is(isa);
    for (int threads : {1, 2}) {
      ThreadsScope ts(threads);
      CAPTURE(isa_name(isa));
      CAPTURE(threads);
      for (const Case& c : edge_cases()) check_case(c);
    }
  }
}

// A last B panel of a few columns runs in the narrow kernel (vectors along A's rows, two A panels
// at a time; gemm_kernel.h), a full one in the micro-kernel: the same columns of a product with
// more columns must come out with the same bits, for every row count (one panel, pairs, an odd
// panel left, a folded last panel) and tail width.
TEST_CASE("sgemm: a narrow last B panel gives the bits of the same columns in a wider product, every ISA") {
  Generator g(26);
  const int64_t K = 300;
  for (Isa isa : supported_isas()) {
    if (isa == Isa::Ref) continue;
    IsaScope is(isa);
    const GemmBlocking blk = gemm_blocking(isa);
    CAPTURE(std::string(isa_name(isa)));
    for (int64_t M : {1, 5, 12, 13, 24, 25, 37, 49, 100}) {
      const int64_t wide = 2 * blk.nr;
      const std::vector<float> a = random_matrix(M, K, K, g), b = random_matrix(K, wide, wide, g);
      std::vector<float> want(M * wide, 1.0f);
      sgemm(Trans::No, Trans::No, M, wide, K, 0.75f, a.data(), K, b.data(), wide, 0.5f, want.data(), wide);
      for (int64_t tail = 1; tail < blk.nr; ++tail) {
        const int64_t N = blk.nr + tail;
        CAPTURE(M);
        CAPTURE(N);
        std::vector<float> got(M * N, 1.0f);
        sgemm(Trans::No, Trans::No, M, N, K, 0.75f, a.data(), K, b.data(), wide, 0.5f, got.data(), N);
        int64_t differ = 0;
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) differ += got[i * N + j] != want[i * wide + j];
        CHECK(differ == 0);
      }
    }
  }
}

TEST_CASE("sgemm: alpha = 0 and K = 0 only scale C; empty M or N is a no-op") {
  for (Isa isa : supported_isas()) {
    IsaScope is(isa);
    check_case({9, 20, 7, Trans::No, Trans::No, 0, 0.0f, 0.5f});
    check_case({9, 20, 0, Trans::No, Trans::No, 0, 1.0f, 2.0f});
    check_case({9, 20, 0, Trans::No, Trans::No, 0, 1.0f, 0.0f});
    float c = 42.0f;
    sgemm(Trans::No, Trans::No, 0, 1, 3, 1.0f, nullptr, 3, nullptr, 1, 0.0f, &c, 1);
    CHECK(c == 42.0f);
  }
}

TEST_CASE("sgemm: bad arguments are refused") {
  float x[4] = {};
  CHECK_THROWS_AS(sgemm(Trans::No, Trans::No, 2, 2, 2, 1, x, 1, x, 2, 0, x, 2), Error);   // lda < K
  CHECK_THROWS_AS(sgemm(Trans::Yes, Trans::No, 2, 2, 1, 1, x, 1, x, 2, 0, x, 2), Error);  // lda < M
  CHECK_THROWS_AS(sgemm(Trans::No, Trans::No, 2, 2, 2, 1, x, 2, x, 2, 0, x, 1), Error);   // ldc < N
  CHECK_THROWS_AS(sgemm(Trans::No, Trans::No, -1, 2, 2, 1, x, 2, x, 2, 0, x, 2), Error);
}

TEST_CASE("sgemm: deterministic, and independent of the thread count") {
  // Every element of C is summed in the same order whatever the tiling across threads (same kc
  // blocks, same k order), so results are bitwise equal run to run and across thread counts.
  const Case big{203, 1301, 777, Trans::No, Trans::No, 0, 1.0f, 0.0f};
  const Case tall{1543, 37, 390, Trans::Yes, Trans::No, 0, 0.5f, 1.0f};
  for (Isa isa : supported_isas()) {
    if (isa == Isa::Ref) continue;
    IsaScope is(isa);
    CAPTURE(isa_name(isa));
    for (const Case& c : {big, tall}) {
      std::vector<float> first;
      {
        ThreadsScope ts(2);
        first = check_case(c);
        for (int rep = 0; rep < 3; ++rep) CHECK(check_case(c) == first);
      }
      ThreadsScope ts(1);
      CHECK(check_case(c) == first);
    }
  }
}

TEST_CASE("sgemm_packed: the same bits as sgemm, both layouts of A, every ISA and backend, 1 and 2 threads") {
  Generator g(21);
  // M not a multiple of any mr, K spanning several kc blocks, N several nr panels plus a tail.
  const int64_t M = 53, K = 700, N = 77;
  const std::vector<float> a_n = random_matrix(M, K, K + 3, g), a_t = random_matrix(K, M, M + 5, g);
  const std::vector<float> b = random_matrix(K, N, N, g);
  for (GemmBackend be : {GemmBackend::Own, GemmBackend::OpenBlas})
    for (Isa isa : supported_isas()) {
      if (be == GemmBackend::OpenBlas && isa != supported_isas().back()) continue;  // ISA-independent
      IsaScope is(isa);
      set_gemm_backend(be);
      for (int threads : {1, 2}) {
        ThreadsScope ts(threads);
        CAPTURE(std::string(isa_name(isa)));
        CAPTURE(gemm_backend_name(be));
        CAPTURE(threads);
        for (Trans ta : {Trans::No, Trans::Yes}) {
          const std::vector<float>& a = ta == Trans::No ? a_n : a_t;
          const int64_t lda = ta == Trans::No ? K + 3 : M + 5;
          std::vector<float> want(M * N, 1.0f), got(M * N, 1.0f), got2(M * N, 1.0f);
          sgemm(ta, Trans::No, M, N, K, 0.5f, a.data(), lda, b.data(), N, 0.25f, want.data(), N);
          const PackedA pa(ta, M, K, a.data(), lda);
          sgemm_packed(pa, Trans::No, N, 0.5f, b.data(), N, 0.25f, got.data(), N);
          CHECK(got == want);
          // A second product from the same packing, on a column range (what a conv band does):
          // our kernels sum each element in the same order whatever N (OpenBLAS need not).
          if (be == GemmBackend::OpenBlas) continue;
          sgemm_packed(pa, Trans::No, N - 10, 0.5f, b.data() + 10, N, 0.25f, got2.data() + 10, N);
          for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 10; j < N; ++j) REQUIRE(got2[i * N + j] == want[i * N + j]);
        }
      }
    }
  set_gemm_backend(GemmBackend::Own);
}

namespace {
// sgemm_packed(pa, B) on 1 and 2 threads against sgemm on A itself (M x K, row-major): the same bits.
void check_packed_as_sgemm(const PackedA& pa, const std::vector<float>& a, const std::vector<float>& b, int64_t M,
                           int64_t N, int64_t K, float alpha, float beta) {
  for (int threads : {1, 2}) {
    ThreadsScope ts(threads);
    CAPTURE(threads);
    std::vector<float> want(M * N, 1.0f), got(M * N, 1.0f);
    sgemm(Trans::No, Trans::No, M, N, K, alpha, a.data(), K, b.data(), N, beta, want.data(), N);
    sgemm_packed(pa, Trans::No, N, alpha, b.data(), N, beta, got.data(), N);
    CHECK(got == want);
  }
}
}  // namespace

// A pre-packed A times a B of one or two panels runs the kernels that ask for A ahead
// (gemm_loop.cpp, streams_a; the Winograd thread blocks' GEMMs): the same bits as sgemm, which packs
// A itself and runs the others, for every tile width up to two panels and a folded last A panel.
TEST_CASE("sgemm_packed: B of one or two panels (A asked for ahead) gives sgemm's bits, every ISA, 1 and 2 threads") {
  Generator g(23);
  const int64_t M = 64 + 14, K = 300;
  const std::vector<float> a = random_matrix(M, K, K, g);
  for (Isa isa : supported_isas()) {
    IsaScope is(isa);
    CAPTURE(std::string(isa_name(isa)));
    const PackedA pa(Trans::No, M, K, a.data(), K);
    for (int64_t N : {1, 8, 16, 20, 31, 32, 40, 63, 64}) {
      CAPTURE(N);
      check_packed_as_sgemm(pa, a, random_matrix(K, N, N, g), M, N, K, 0.5f, 0.25f);
    }
  }
}

namespace {
// Runs f(backend, isa) on our SGEMM with every ISA and on OpenBLAS once (with the best ISA), each
// captured for failure messages; the backend is ours again afterwards, even after a failure.
template <class F>
void for_each_backend_and_isa(F&& f) {
  struct Restore {
    ~Restore() { set_gemm_backend(GemmBackend::Own); }
  } restore;
  for (GemmBackend be : {GemmBackend::Own, GemmBackend::OpenBlas})
    for (Isa isa : supported_isas()) {
      if (be == GemmBackend::OpenBlas && isa != supported_isas().back()) continue;
      IsaScope is(isa);
      set_gemm_backend(be);
      CAPTURE(std::string(isa_name(isa)));
      CAPTURE(std::string(gemm_backend_name(be)));
      f(be, isa);
    }
}

// B (K x N, row-major) written in `layout` at `packed` (64-byte aligned, layout.floats() long), as
// the Winograd input transform writes V: the last panel's columns past N zero up to N rounded up to
// 16 (what the kernels read) and NaN beyond (what they must not).
void write_packed_b(const PackedBLayout& layout, const std::vector<float>& b, int64_t K, int64_t N, float* packed) {
  std::fill(packed, packed + layout.floats(), std::numeric_limits<float>::quiet_NaN());
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < (layout.nr ? (N + 15) / 16 * 16 : N); ++n)
      packed[layout.offset(k, n)] = n < N ? b[k * N + n] : 0.0f;
}
}  // namespace

// A producer that writes A straight into the packed layout (the Winograd weight transform) must
// get the bits of packing A itself: every element placed by PackedALayout::offset, padding rows
// zero, K over several kc blocks and M not a multiple of mr.
TEST_CASE("PackedA::adopt: A written in PackedALayout gives sgemm's bits, every ISA and backend, 1 and 2 threads") {
  Generator g(23);
  const int64_t M = 53, K = 700, N = 77;
  const std::vector<float> a = random_matrix(M, K, K, g), b = random_matrix(K, N, N, g);
  for_each_backend_and_isa([&](GemmBackend be, Isa isa) {
    const PackedALayout layout = PackedA::layout(M, K);
    CHECK((layout.mr == 0) == (be == GemmBackend::OpenBlas || isa == Isa::Ref));
    std::vector<float> packed(layout.floats(), 0.0f);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t k = 0; k < K; ++k) packed[layout.offset(i, k)] = a[i * K + k];
    check_packed_as_sgemm(PackedA::adopt(layout, packed.data()), a, b, M, N, K, 1.0f, 0.0f);
  });
}

// The same for B (the Winograd input transform writes V where the GEMM reads it): every element
// placed by PackedBLayout::offset, K over several kc blocks, N over several nr panels plus a tail;
// the last panel's columns past N zero up to N rounded up to 16 and NaN beyond, which must not
// reach C. M = 5 (one row panel) makes the 2-thread grid split N, so tiles start at a
// later panel.
TEST_CASE("sgemm_packed: B written in PackedBLayout gives sgemm's bits, every ISA and backend, 1 and 2 threads") {
  Generator g(24);
  const int64_t K = 700, N = 77;
  const std::vector<float> b = random_matrix(K, N, N, g);
  // 49: VGG16's conv4_x tiles as rows at 224 (a folded last panel); 1600: past MC, so B is swept
  // once per block of rows (and its first block asked for again before the next).
  for (int64_t M : {53, 49, 5, 1600}) {
    const std::vector<float> a = random_matrix(M, K, K, g);
    CAPTURE(M);
    for_each_backend_and_isa([&](GemmBackend be, Isa isa) {
      const PackedBLayout layout = packed_b_layout(K, N);
      CHECK((layout.nr == 0) == (be == GemmBackend::OpenBlas || isa == Isa::Ref));
      const WorkspaceLease lease(layout.floats());  // 64-byte aligned, as the layout requires
      write_packed_b(layout, b, K, N, lease.data());
      const PackedA pa(Trans::No, M, K, a.data(), K);
      for (int threads : {1, 2}) {
        ThreadsScope ts(threads);
        std::vector<float> want(M * N, 1.0f), got(M * N, 1.0f);
        sgemm(Trans::No, Trans::No, M, N, K, 0.5f, a.data(), K, b.data(), N, 0.25f, want.data(), N);
        sgemm_packed(pa, layout, lease.data(), 0.5f, 0.25f, got.data(), N);
        CHECK(got == want);
        // A next GEMM's B (here the same one) is only asked into the cache: the same bits.
        std::vector<float> hinted(M * N, 1.0f);
        sgemm_packed(pa, layout, lease.data(), 0.5f, 0.25f, hinted.data(), N, lease.data());
        CHECK(hinted == want);
      }
    });
  }
}

// A product computed part by part (sgemm_packed_part, as the Winograd convolution shares its
// GEMMs out by output channels) gives sgemm_packed's bits in each part on our SGEMM (OpenBLAS, on
// a part of A and B, may round differently: there it only agrees), and writes nothing outside the
// part; parts that start off a panel, or reach past C, are refused.
TEST_CASE("sgemm_packed_part: each part the bits of the whole product, nothing outside; every ISA and backend") {
  Generator g(25);
  const int64_t M = 53, K = 600, N = 77;
  const std::vector<float> a = random_matrix(M, K, K, g), b = random_matrix(K, N, N, g);
  for_each_backend_and_isa([&](GemmBackend be, Isa) {
    const PackedBLayout layout = packed_b_layout(K, N);
    const WorkspaceLease lease(layout.floats());
    float* packed = lease.data();
    write_packed_b(layout, b, K, N, packed);
    const PackedA pa(Trans::No, M, K, a.data(), K);
    const int64_t mr = std::max<int64_t>(PackedA::layout(M, K).mr, 1), nr = std::max<int64_t>(layout.nr, 1);
    std::vector<float> whole(M * N, 1.0f);
    sgemm_packed(pa, layout, packed, 0.5f, 0.25f, whole.data(), N);
    // Row cuts at panels (the last part a short panel at the bottom), column cuts at panels.
    const std::vector<int64_t> rows = {0, mr, 3 * mr, M}, cols = {0, nr, N};
    for (size_t i = 0; i + 1 < rows.size(); ++i)
      for (size_t j = 0; j + 1 < cols.size(); ++j) {
        const GemmPart part{rows[i], rows[i + 1], cols[j], cols[j + 1]};
        std::vector<float> got(M * N, 1.0f);
        sgemm_packed_part(pa, layout, packed, 0.5f, 0.25f, got.data(), N, part, packed);
        int64_t wrong = 0;
        for (int64_t r = 0; r < M; ++r)
          for (int64_t c = 0; c < N; ++c) {
            const float v = got[r * N + c], w = whole[r * N + c];
            if (r < part.r0 || r >= part.r1 || c < part.n0 || c >= part.n1) wrong += v != 1.0f;
            else if (be == GemmBackend::Own) wrong += v != w;
            else wrong += std::fabs(v - w) > 1e-5f * (1.0f + std::fabs(w));
          }
        CHECK(wrong == 0);
      }
    if (layout.nr) {
      CHECK_THROWS_AS(sgemm_packed_part(pa, layout, packed, 1.0f, 0.0f, whole.data(), N, {1, M, 0, N}), Error);
      CHECK_THROWS_AS(sgemm_packed_part(pa, layout, packed, 1.0f, 0.0f, whole.data(), N, {0, M, 3, N}), Error);
    }
    CHECK_THROWS_AS(sgemm_packed_part(pa, layout, packed, 1.0f, 0.0f, whole.data(), N, {0, M + 1, 0, N}), Error);
  });
}

namespace {
// op(B) served column by column from a row-major N x K matrix (op(B) = that matrix transposed),
// as the convolution's im2col source serves it.
class MatrixColumns final : public BColumnSource {
 public:
  MatrixColumns(const float* bt, int64_t ld) : bt_(bt), ld_(ld) {}
  void columns(int64_t k0, int64_t kb, int64_t n0, int64_t nb, float* lines) const override {
    for (int64_t l = 0; l < nb; ++l)
      for (int64_t k = 0; k < kb; ++k) lines[l * kb + k] = bt_[(n0 + l) * ld_ + k0 + k];
  }

 private:
  const float* bt_;
  int64_t ld_;
};
}  // namespace

TEST_CASE("sgemm_b_columns: the same bits as sgemm on that op(B) in memory, every ISA, 1 and 2 threads") {
  Generator g(23);
  const int64_t M = 29, K = 700, N = 83;  // edge tiles, several kc blocks, an nr tail
  const std::vector<float> a = random_matrix(M, K, K, g), bt = random_matrix(N, K, K + 1, g);
  for (Isa isa : supported_isas()) {
    IsaScope is(isa);
    for (int threads : {1, 2}) {
      ThreadsScope ts(threads);
      CAPTURE(std::string(isa_name(isa)));
      CAPTURE(threads);
      std::vector<float> want(M * N, 1.0f), got(M * N, 1.0f);
      sgemm(Trans::No, Trans::Yes, M, N, K, 0.5f, a.data(), K, bt.data(), K + 1, 0.25f, want.data(), N);
      const bool ran = sgemm_b_columns(Trans::No, M, N, K, 0.5f, a.data(), K, MatrixColumns(bt.data(), K + 1), 0.25f,
                                       got.data(), N);
      CHECK(ran == (isa != Isa::Ref));  // the reference ISA runs no packing: the caller materialises B
      if (ran) CHECK(got == want);
    }
  }
  set_gemm_backend(GemmBackend::OpenBlas);
  std::vector<float> c(M * N, 0.0f);
  CHECK_FALSE(sgemm_b_columns(Trans::No, M, N, K, 1.0f, a.data(), K, MatrixColumns(bt.data(), K + 1), 0.0f, c.data(), N));
  set_gemm_backend(GemmBackend::Own);
}

TEST_CASE("sgemm: OpenBLAS backend agrees with the reference") {
  set_gemm_backend(GemmBackend::OpenBlas);
  for (int threads : {1, 2}) {
    ThreadsScope ts(threads);
    for (const Case& c : {Case{7, 13, 5}, Case{33, 65, 17, Trans::Yes, Trans::Yes, 3, 0.5f, 2.0f},
                          Case{64, 196, 27}})
      check_case(c);
  }
  set_gemm_backend(GemmBackend::Own);
  CHECK(std::string(gemm_backend_name(gemm_backend())) == "own");
}

TEST_CASE("dgemm: matches the reference (and OpenBLAS)") {
  Generator g(3);
  const int64_t M = 17, N = 23, K = 31;
  std::vector<double> A(M * K), B(K * N), C(M * N, 1.0), R(M * N, 1.0);
  for (auto& x : A) x = g.normal();
  for (auto& x : B) x = g.normal();
  dgemm_ref(Trans::No, Trans::Yes, M, N, K, 0.5, A.data(), K, B.data(), K, 2.0, R.data(), N);
  for (GemmBackend backend : {GemmBackend::Own, GemmBackend::OpenBlas}) {
    set_gemm_backend(backend);
    std::vector<double> c = C;
    dgemm(Trans::No, Trans::Yes, M, N, K, 0.5, A.data(), K, B.data(), K, 2.0, c.data(), N);
    for (size_t i = 0; i < c.size(); ++i) CHECK(c[i] == doctest::Approx(R[i]).epsilon(1e-12));
  }
  set_gemm_backend(GemmBackend::Own);
}

TEST_CASE("isa: names, detection, override refuses what the machine lacks") {
  for (Isa isa : {Isa::Ref, Isa::Avx2, Isa::Avx512}) CHECK(parse_isa(isa_name(isa)) == isa);
  CHECK_THROWS_AS(parse_isa("sse9"), Error);
  CHECK(isa_supported(Isa::Ref));
  CHECK(isa_supported(best_isa()));
  if (isa_supported(Isa::Avx512)) CHECK(isa_supported(Isa::Avx2));  // we require AVX2 for AVX-512

  // A pretend CPU with AVX2 only: asking for AVX-512 must fail loudly, naming what exists.
  CpuFeatures avx2_only;
  avx2_only.avx2_fma = true;
  CHECK(resolve_isa_request("", avx2_only) == Isa::Avx2);
  CHECK(resolve_isa_request("ref", avx2_only) == Isa::Ref);
  CHECK_THROWS_WITH_AS(resolve_isa_request("avx512", avx2_only),
                       doctest::Contains("not available on this machine"), Error);
  CHECK_THROWS_WITH_AS(resolve_isa_request("avx512", avx2_only), doctest::Contains("ref, avx2"), Error);
  CHECK_THROWS_AS(resolve_isa_request("avx2", CpuFeatures{}), Error);
  CHECK_THROWS_WITH_AS(resolve_isa_request("fast", avx2_only), doctest::Contains("STYLENET_ISA"), Error);

  // set_isa on this machine: accepted for what it has, refused (and unchanged) otherwise.
  const Isa before = active_isa();
  for (Isa isa : {Isa::Ref, Isa::Avx2, Isa::Avx512}) {
    if (isa_supported(isa)) {
      IsaScope is(isa);
      CHECK(active_isa() == isa);
    } else {
      CHECK_THROWS_AS(set_isa(isa), Error);
    }
  }
  CHECK(active_isa() == before);
}

TEST_CASE("matmul: the SGEMM path agrees with the reference path") {
  Generator g(5);
  const Tensor a = Tensor::randn({3, 1, 19, 37}, g), b = Tensor::randn({4, 37, 23}, g);
  const Tensor v = Tensor::randn({37}, g);
  const Tensor bt = Tensor::randn({4, 23, 37}, g);
  // Views whose matrices are transposed, strided (non-BLAS: copied), or broadcast.
  const Tensor b_t = bt.as_strided({4, 37, 23}, {23 * 37, 1, 37}, 0);
  const Tensor a_step = Tensor::randn({19, 74}, g).as_strided({19, 37}, {74, 2}, 0);
  const Tensor b_bcast = Tensor::randn({37, 1}, g).as_strided({37, 23}, {1, 0}, 0);
  struct Pair {
    const char* name;
    Tensor x, y;
  };
  const Pair pairs[] = {{"batched broadcast", a, b}, {"transposed rhs", a, b_t},
                        {"vec @ mat", v, b},         {"mat @ vec", a, v},
                        {"vec @ vec", v, v},         {"strided lhs", a_step, b_t},
                        {"broadcast rhs", a_step, b_bcast}};
  for (const Pair& p : pairs) {
    CAPTURE(p.name);
    Tensor want;
    {
      IsaScope is(Isa::Ref);
      want = kernels::matmul(p.x, p.y);
    }
    for (Isa isa : supported_isas()) {
      IsaScope is(isa);
      for (int threads : {1, 2}) {
        ThreadsScope ts(threads);
        const Tensor got = kernels::matmul(p.x, p.y);
        REQUIRE(got.shape() == want.shape());
        const auto gv = got.to_vector<float>(), wv = want.to_vector<float>();
        for (size_t i = 0; i < gv.size(); ++i) CHECK(gv[i] == doctest::Approx(wv[i]).epsilon(1e-5).scale(10));
      }
    }
  }
}
