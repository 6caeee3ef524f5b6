// The serial Goto/BLIS loop nest for one tile of C (gemm_tile), with the roles of the caches. The
// driver (gemm.cpp) cuts C into such tiles, one per thread.
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
#include "tensor/cpu/gemm_loop.h"

#include <oneapi/tbb/enumerable_thread_specific.h>

#include "tensor/cpu/isa.h"
#include "tensor/cpu/tsan.h"

namespace sn::cpu::gemm_detail {

PackBuffers& pack_buffers() {
#ifdef SN_TSAN
  thread_local PackBuffers buffers;  // see tensor/cpu/tsan.h
  return buffers;
#else
  static tbb::enumerable_thread_specific<PackBuffers> buffers;
  return buffers.local();
#endif
}

namespace {

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

}  // namespace

// The serial Goto loop nest for C[0:M, 0:N] (see the top of this file).
void gemm_tile(const KernelSet& ks, int64_t M, int64_t N, int64_t K, float alpha, Strided A,
               const BOperand& B, float beta, float* C, int64_t ldc, PrePackedA pre) {
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

}  // namespace sn::cpu::gemm_detail
