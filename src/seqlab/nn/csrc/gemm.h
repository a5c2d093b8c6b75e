// The recurrent products of the loop on weights packed once per call: the same matrix W_hh multiplies every
// step, T times over, and at the loop's shapes (B rows, a few hundred columns) a BLAS call spends much of its
// time outside the arithmetic -- checking, copying its operands into its kernel's layout, waking threads.
// Here W_hh is copied once into panels of NR columns (K x NR each, contiguous, zero-padded past the last
// column), and each product is a register-blocked kernel (MR rows x NR columns of C in registers, one FMA per
// element of a panel row and C row) over those panels, split by panels over the threads when it is large.
// Vector builds only (AVX2, AVX-512: Vec of vec.h); the generic build calls BLAS.  Measured against sgemm_ at the
// loop's shapes: benchmarks/packed_gemm.py.
#pragma once

#include <ATen/Parallel.h>

#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "vec.h"

namespace seqlab {

using at::Tensor;

// ------------------------------------------------------------------------------- products
// Straight to BLAS: the sgemm_/dgemm_ that ATen's CPU matmul itself reaches (MKL, exported by
// libtorch_cpu), without a dispatcher round trip per step; through ATen where a build lacks them.
extern "C" {
void sgemm_(const char*, const char*, const int*, const int*, const int*, const float*, const float*, const int*,
            const float*, const int*, const float*, float*, const int*) __attribute__((weak));
void dgemm_(const char*, const char*, const int*, const int*, const int*, const double*, const double*,
            const int*, const double*, const int*, const double*, double*, const int*) __attribute__((weak));
}

// Column-major C (m x n) = op(a) op(b) + beta C, as BLAS.
template <typename s_t>
void blas(char ta, char tb, int64_t m, int64_t n, int64_t k, const s_t* a, int64_t lda, const s_t* b, int64_t ldb,
          s_t beta, s_t* c, int64_t ldc) {
  const int M = m, N = n, K = k, LA = lda, LB = ldb, LC = ldc;
  const s_t one = 1;
  if constexpr (std::is_same_v<s_t, float>) sgemm_(&ta, &tb, &M, &N, &K, &one, a, &LA, b, &LB, &beta, c, &LC);
  else dgemm_(&ta, &tb, &M, &N, &K, &one, a, &LA, b, &LB, &beta, c, &LC);
}

template <typename s_t>
bool have_blas() { return std::is_same_v<s_t, float> ? sgemm_ != nullptr : dgemm_ != nullptr; }

template <typename s_t>
Tensor view(const s_t* p, int64_t rows, int64_t cols, int64_t ld) {
  return at::from_blob(const_cast<s_t*>(p), {rows, cols}, {ld, 1}, c10::CppTypeToScalarType<s_t>::value);
}

// Row-major C (M x N, row stride ldc) = beta C + X (M x K) W^T, with W (N x K).
template <typename s_t>
void gemm_nt(int64_t M, int64_t N, int64_t K, const s_t* X, int64_t ldx, const s_t* W, int64_t ldw, s_t beta,
             s_t* C, int64_t ldc) {
  if (have_blas<s_t>()) return blas<s_t>('T', 'N', N, M, K, W, ldw, X, ldx, beta, C, ldc);
  Tensor c = view(C, M, N, ldc);
  if (beta == 0) c.copy_(at::mm(view(X, M, K, ldx), view(W, N, K, ldw).t()));
  else c.addmm_(view(X, M, K, ldx), view(W, N, K, ldw).t());
}

// Row-major C (M x N, row stride ldc) = beta C + X (M x K) W, with W (K x N).
template <typename s_t>
void gemm_nn(int64_t M, int64_t N, int64_t K, const s_t* X, int64_t ldx, const s_t* W, int64_t ldw, s_t beta,
             s_t* C, int64_t ldc) {
  if (have_blas<s_t>()) return blas<s_t>('N', 'N', N, M, K, W, ldw, X, ldx, beta, C, ldc);
  Tensor c = view(C, M, N, ldc);
  if (beta == 0) c.copy_(at::mm(view(X, M, K, ldx), view(W, K, N, ldw)));
  else c.addmm_(view(X, M, K, ldx), view(W, K, N, ldw));
}

// ------------------------------------------------------------------------------- packed products
#if defined(__AVX2__) || defined(__AVX512F__)
constexpr bool kPackable = true;

// Panels of NR = two vectors of columns; MR rows of C at a time (2 MR accumulators, 2 panel loads and one
// broadcast: 15 of AVX2's 16 registers at MR = 6, as in BLIS's Haswell kernel; AVX-512 has 32, MR = 12).
template <typename s_t>
struct Tile {
  using V = Vec<s_t>;
  static constexpr int NR = 2 * V::n;
#if defined(__AVX512F__)
  static constexpr int MR = 12;
#else
  static constexpr int MR = 6;
#endif
  static constexpr int64_t KC = 32768 / (NR * sizeof(s_t));  // rows of a panel per pass: 32 KiB, an L1
};

// W as the B operand of C = X W: element (k, j) at W[k * sk + j * sj], K x N.  Panels (ceil(N / NR), K, NR).
template <typename s_t>
struct Packed {
  Tensor data;
  int64_t N = 0, K = 0;
  const s_t* panel(int64_t p) const { return data.data_ptr<s_t>() + p * K * Tile<s_t>::NR; }
  int64_t panels() const { return (N + Tile<s_t>::NR - 1) / Tile<s_t>::NR; }
};

template <typename s_t>
Packed<s_t> pack(const s_t* W, int64_t sk, int64_t sj, int64_t K, int64_t N, const at::TensorOptions& options) {
  constexpr int NR = Tile<s_t>::NR;
  Packed<s_t> P{Tensor(), N, K};
  P.data = at::empty({P.panels(), K, NR}, options);
  s_t* out = P.data.template data_ptr<s_t>();
  at::parallel_for(0, P.panels(), 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t cols = std::min<int64_t>(NR, N - p * NR);
      for (int64_t k = 0; k < K; ++k) {
        s_t* o = out + (p * K + k) * NR;
        for (int64_t j = 0; j < cols; ++j) o[j] = W[k * sk + (p * NR + j) * sj];
        std::fill(o + cols, o + NR, s_t(0));
      }
    }
  });
  return P;
}

// C (m rows x cols columns, cols <= NR, row stride ldc) = (accumulate ? C : 0) + X (m x kc, row stride ldx) Pk,
// Pk kc rows of one panel.  m == MR unrolls fully; the last row block takes the same code with fewer rows.
template <typename s_t, int M>
inline void kernel(int64_t kc, const s_t* X, int64_t ldx, const s_t* Pk, s_t* C, int64_t ldc, bool accumulate,
                   int64_t cols) {
  using V = Vec<s_t>;
  using R = typename V::R;
  constexpr int n = V::n, NR = 2 * n;
  R c0[M], c1[M];
  const bool full = cols == NR;
  for (int r = 0; r < M; ++r) {
    if (!accumulate) {
      c0[r] = V::zero();
      c1[r] = V::zero();
    } else if (full) {
      c0[r] = V::load(C + r * ldc);
      c1[r] = V::load(C + r * ldc + n);
    } else {
      s_t buf[NR] = {};
      std::copy(C + r * ldc, C + r * ldc + cols, buf);
      c0[r] = V::load(buf);
      c1[r] = V::load(buf + n);
    }
  }
  for (int64_t k = 0; k < kc; ++k) {
    const R w0 = V::load(Pk + k * NR), w1 = V::load(Pk + k * NR + n);
    for (int r = 0; r < M; ++r) {
      const R x = V::set1(X[r * ldx + k]);
      c0[r] = V::fma(x, w0, c0[r]);
      c1[r] = V::fma(x, w1, c1[r]);
    }
  }
  for (int r = 0; r < M; ++r) {
    if (full) {
      V::store(C + r * ldc, c0[r]);
      V::store(C + r * ldc + n, c1[r]);
    } else {
      s_t buf[NR];
      V::store(buf, c0[r]);
      V::store(buf + n, c1[r]);
      std::copy(buf, buf + cols, C + r * ldc);
    }
  }
}

template <typename s_t, int M = Tile<s_t>::MR>
inline void rows_kernel(int64_t m, int64_t kc, const s_t* X, int64_t ldx, const s_t* Pk, s_t* C, int64_t ldc,
                        bool accumulate, int64_t cols) {
  if constexpr (M > 1) {
    if (m < M) return rows_kernel<s_t, M - 1>(m, kc, X, ldx, Pk, C, ldc, accumulate, cols);
  }
  kernel<s_t, M>(kc, X, ldx, Pk, C, ldc, accumulate, cols);
}

// Multiply-adds below which a product stays on one thread (waking the other costs more than it saves).
constexpr int64_t kSerialMacs = int64_t(1) << 19;

// Row-major C (M x N, row stride ldc) = beta C + X (M x K, row stride ldx) W, W packed (beta 0 or 1).
template <typename s_t>
void gemm_packed(int64_t M, const s_t* X, int64_t ldx, const Packed<s_t>& P, s_t beta, s_t* C, int64_t ldc) {
  constexpr int NR = Tile<s_t>::NR, MR = Tile<s_t>::MR;
  constexpr int64_t KC = Tile<s_t>::KC;
  const int64_t K = P.K, N = P.N;
  const auto panels = [&](int64_t p0, int64_t p1) {
    for (int64_t k0 = 0; k0 < K; k0 += KC) {
      const int64_t kc = std::min(KC, K - k0);
      const bool accumulate = beta != 0 || k0 > 0;
      for (int64_t p = p0; p < p1; ++p) {
        const s_t* Pk = P.panel(p) + k0 * NR;
        const int64_t j = p * NR, cols = std::min<int64_t>(NR, N - j);
        for (int64_t i = 0; i < M; i += MR)
          rows_kernel<s_t>(std::min<int64_t>(MR, M - i), kc, X + i * ldx + k0, ldx, Pk, C + i * ldc + j, ldc,
                           accumulate, cols);
      }
    }
  };
  if (M * N * K < kSerialMacs) return panels(0, P.panels());
  // at least half of kSerialMacs for each thread, however many there are
  at::parallel_for(0, P.panels(), std::max<int64_t>(1, kSerialMacs / 2 / (M * K * NR)), panels);
}

#else
constexpr bool kPackable = false;
#endif

// Products of fewer steps than this call BLAS: packing copies W_hh once, which one or two products do not repay
// (sampling one token at a time runs the loop for T = 1).
constexpr int64_t kPackSteps = 8;

// W_hh (G*H x H, row-major) as a step multiplies by a block of its rows, W = W_hh[r0 : r0 + n]:
//   forward   C = beta C + X W^T   (X: M x H,  C: M x n),
//   backward  C = beta C + X W     (X: M x n,  C: M x H),
// beta 0 or 1.  Vector builds, for a loop of at least kPackSteps steps, pack each block the first time it is used
// (once per call of the loop: a copy of W_hh, against T products); otherwise BLAS.
template <typename s_t>
class Recurrent {
 public:
  Recurrent() = default;
  Recurrent(const Tensor& w, int64_t steps) : w_(w), H_(w.size(1)), packed_(kPackable && steps >= kPackSteps) {}
  bool packed() const { return packed_; }
  void forward(int64_t M, int64_t r0, int64_t n, const s_t* X, int64_t ldx, s_t beta, s_t* C, int64_t ldc) {
#if defined(__AVX2__) || defined(__AVX512F__)
    if (packed_) return gemm_packed<s_t>(M, X, ldx, block(false, r0, n), beta, C, ldc);
#endif
    gemm_nt<s_t>(M, n, H_, X, ldx, w() + r0 * H_, H_, beta, C, ldc);
  }
  void backward(int64_t M, int64_t r0, int64_t n, const s_t* X, int64_t ldx, s_t beta, s_t* C, int64_t ldc) {
#if defined(__AVX2__) || defined(__AVX512F__)
    if (packed_) return gemm_packed<s_t>(M, X, ldx, block(true, r0, n), beta, C, ldc);
#endif
    gemm_nn<s_t>(M, H_, n, X, ldx, w() + r0 * H_, H_, beta, C, ldc);
  }

 private:
  Tensor w_;
  int64_t H_ = 0;
  bool packed_ = false;
  const s_t* w() const { return w_.data_ptr<s_t>(); }
#if defined(__AVX2__) || defined(__AVX512F__)
  struct Block {
    bool backward;
    int64_t r0, n;
    Packed<s_t> P;
  };
  // At most two per direction (the GRU with the reset before the product); shared by the copies of this object
  // that the threads of a loop split by batch rows hold (a deque: adding a block moves none of the others).
  struct Blocks {
    std::mutex lock;
    std::deque<Block> all;
  };
  std::shared_ptr<Blocks> blocks_ = std::make_shared<Blocks>();
  const Packed<s_t>& block(bool backward, int64_t r0, int64_t n) {
    std::lock_guard<std::mutex> guard(blocks_->lock);
    for (const Block& b : blocks_->all)
      if (b.backward == backward && b.r0 == r0 && b.n == n) return b.P;
    const s_t* W = w() + r0 * H_;  // as the B operand: forward (k, j) = W[j][k] (K = H, N = n); backward W[k][j]
    blocks_->all.push_back({backward, r0, n,
                            backward ? pack<s_t>(W, H_, 1, n, H_, w_.options()) : pack<s_t>(W, 1, H_, H_, n, w_.options())});
    return blocks_->all.back().P;
  }
#endif
};

}  // namespace seqlab
