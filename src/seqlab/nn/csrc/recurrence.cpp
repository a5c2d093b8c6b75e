// The hand-BPTT driver loop in C++: the same recurrence as seqlab/nn/scan.py, with every cell's
// per-step elementwise work fused into one pass over the batch (CPU, float32 and float64).
//
// Each cell below is its forward step and its hand-derived backward step side by side, the same
// formulas as the Python cell of the same name (seqlab/nn/elman.py, lstm.py, gru.py); the generic
// driver (forward_loop / backward_loop, run by `forward` / `backward` at the bottom) runs every cell.
// A forward step is the recurrent product (BLAS) and one pass over the batch rows doing all of the
// cell's elementwise work, sigmoid and tanh included (SLEEF's vector functions); a backward step is
// one pass (it needs no transcendental: the derivatives come from the kept activations) and the
// product with W_hh.
//
// Buffers, for T steps, batch B, hidden H, G gate blocks:
//   A  (T, B, G*H)  the input projection xp; forward turns A[t] into the gate activations;
//   Hs (T+1, B, H)  h_0 .. h_T (the carried state: masked steps keep the previous h);
//   Cs (T+1, B, H)  c_0 .. c_T (LSTMs);
//   K  (T, B, H)    one more cache per cell: tanh(c_t) (LSTMs), W_hn u + b_hn (GRU), r * u (GRU
//                   with the reset gate before the product); none for the Elman cell.
// That is what the forward keeps for the backward (no recomputation): per step (G+3)H numbers for
// the LSTMs, (G+2)H for the GRUs, H for the Elman cell (its h'_t is Hs[t+1]); the output is a view
// of Hs.  The backward writes dL/d(pre-activation) into D (T, B, G*H) -- the caller's d_xp -- and
// the GRU's dL/dh_n into Dn (T, B, H): fresh buffers where the graph is kept for a second backward,
// else A and K themselves.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>
#if defined(__AVX2__)
#include <immintrin.h>
#include <sleef.h>
#endif

namespace seqlab {

using at::Tensor;

enum Kind : int64_t { RNN_TANH = 0, RNN_RELU, LSTM, LSTM_PEEPHOLE, LSTM_COUPLED, LSTM_NO_FORGET, GRU, GRU_BEFORE };

// Run f(b) for every batch row b, split over threads when the work (B rows of `width` units: an
// element of arithmetic is 1, of sigmoid or tanh about 4) fills at least two chunks of kGrain; below
// that, waking a thread costs more than it saves.
constexpr int64_t kGrain = 16384;
template <typename F>
inline void rows(int64_t B, int64_t width, const F& f) {
  if (B * width < 2 * kGrain) {
    for (int64_t b = 0; b < B; ++b) f(b);
    return;
  }
  at::parallel_for(0, B, std::max<int64_t>(1, kGrain / width), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) f(b);
  });
}

template <typename s_t>
inline s_t dsig(s_t s) { return s * (1 - s); }  // sigma' from sigma

template <typename s_t>
inline s_t dtanh(s_t y) { return 1 - y * y; }  // tanh' from tanh

// sigmoid and tanh over n contiguous values, in place (y == x) or not.  Built with AVX2 they use the
// SLEEF library inside libtorch_cpu, eight floats or four doubles at a time: sigmoid = 1 / (1 + exp(-x))
// with the 1-ulp exp, as ATen's own sigmoid kernel; tanh with SLEEF's 3.5-ulp tanh, where ATen's uses
// the 1-ulp one (2.7x slower in float, 2.1x in double, on the benchmark machine).  Elsewhere the C
// library's, one at a time: the Python driver is then the faster one, and seqlab.nn.fused does not use
// this library (see vectorized()).
#if defined(__AVX2__)
template <typename s_t> struct Vec;
template <> struct Vec<float> {
  using R = __m256;
  static constexpr int n = 8;
  static R load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, R v) { _mm256_storeu_ps(p, v); }
  static R sigmoid(R x) {
    const R one = _mm256_set1_ps(1.f);
    return _mm256_div_ps(one, _mm256_add_ps(one, Sleef_expf8_u10(_mm256_sub_ps(_mm256_setzero_ps(), x))));
  }
  static R tanh(R x) { return Sleef_tanhf8_u35(x); }
};
template <> struct Vec<double> {
  using R = __m256d;
  static constexpr int n = 4;
  static R load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, R v) { _mm256_storeu_pd(p, v); }
  static R sigmoid(R x) {
    const R one = _mm256_set1_pd(1.);
    return _mm256_div_pd(one, _mm256_add_pd(one, Sleef_expd4_u10(_mm256_sub_pd(_mm256_setzero_pd(), x))));
  }
  static R tanh(R x) { return Sleef_tanhd4_u35(x); }
};
constexpr bool kVectorized = true;

template <typename s_t, typename F>
inline void vmap(const s_t* x, s_t* y, int64_t n, const F& f) {
  using V = Vec<s_t>;
  int64_t j = 0;
  for (; j + V::n <= n; j += V::n) V::store(y + j, f(V::load(x + j)));
  if (j < n) {  // the tail through the same function, via a padded copy
    s_t buf[V::n] = {};
    std::copy(x + j, x + n, buf);
    V::store(buf, f(V::load(buf)));
    std::copy(buf, buf + (n - j), y + j);
  }
}
template <typename s_t>
inline void sigmoid(const s_t* x, s_t* y, int64_t n) { vmap(x, y, n, [](auto v) { return Vec<s_t>::sigmoid(v); }); }
template <typename s_t>
inline void tanh(const s_t* x, s_t* y, int64_t n) { vmap(x, y, n, [](auto v) { return Vec<s_t>::tanh(v); }); }
#else
constexpr bool kVectorized = false;
template <typename s_t>
inline void sigmoid(const s_t* x, s_t* y, int64_t n) {
  for (int64_t j = 0; j < n; ++j) y[j] = 1 / (1 + std::exp(-x[j]));
}
template <typename s_t>
inline void tanh(const s_t* x, s_t* y, int64_t n) {
  for (int64_t j = 0; j < n; ++j) y[j] = std::tanh(x[j]);
}
#endif

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

// What a step sees: the buffers (see the top of the file), the weights, and per-step scratch.
template <typename s_t>
struct Run {
  int64_t T, B, H;
  Tensor A, Hs, Cs, K;
  Tensor w_hh, b_hh;  // (G*H, H), (G*H,)
  const s_t *v_i = nullptr, *v_f = nullptr, *v_o = nullptr;  // peephole weights (H,)
  Tensor scratch;  // (B, G*H): the recurrent pre-activation of the GRU step
  s_t* a(int64_t t) { return A.data_ptr<s_t>() + t * B * A.size(2); }
  s_t* h(int64_t t) { return Hs.data_ptr<s_t>() + t * B * H; }
  s_t* c(int64_t t) { return Cs.data_ptr<s_t>() + t * B * H; }
  s_t* k(int64_t t) { return K.data_ptr<s_t>() + t * B * H; }
  Tensor D, Dn;  // backward: dL/d(pre-activation) (T, B, G*H); the GRU's dL/dh_n (T, B, H)
  s_t* d(int64_t t) { return D.data_ptr<s_t>() + t * B * D.size(2); }
  s_t* dn(int64_t t) { return Dn.data_ptr<s_t>() + t * B * H; }
  const s_t* w() { return w_hh.data_ptr<s_t>(); }  // W_hh (G*H, H), row-major
};

// What a backward step gets and gives: dh is dL/dh_t (in), dc dL/dc_t (in) -> dL/dc_{t-1} (out,
// direct part), dh_direct the direct part of dL/dh_{t-1} (GRU's z * dh; zero for the others),
// du = dL/du_t.
template <typename s_t>
struct Grad {
  Tensor dh, dc, dh_direct, du, scratch;
  s_t* p(Tensor& x) { return x.data_ptr<s_t>(); }
};

// ------------------------------------------------------------------------------------ Elman
// h_t = f(a),  a = xp_t + W_hh u  (xp holds both biases);  delta = dh * f'(a), du = W_hh^T delta.
template <typename s_t, bool relu>
struct Elman {
  static constexpr int G = 1;
  static void step(Run<s_t>& r, int64_t t, const s_t* u) {
    const int64_t H = r.H, GH = r.A.size(2);
    gemm_nt<s_t>(r.B, GH, H, u, H, r.w(), H, 1, r.a(t), GH);  // a = xp + u W_hh^T
    s_t *A = r.a(t), *h = r.h(t + 1);
    rows(r.B, 4 * H, [&](int64_t b) {
      s_t* x = A + b * H;
      if (relu) {
        for (int64_t j = 0; j < H; ++j) x[j] = x[j] < 0 ? s_t(0) : x[j];
      } else {
        tanh(x, x, H);
      }
      std::copy(x, x + H, h + b * H);
    });
  }
  static void step_backward(Run<s_t>& r, Grad<s_t>& g, int64_t t, const s_t*) {
    const int64_t H = r.H;
    s_t *y = r.h(t + 1), *D = r.d(t), *dh = g.p(g.dh);  // y = f(a_t) (see backward() below)
    rows(r.B, 2 * H, [&](int64_t b) {
      for (int64_t e = b * H; e < (b + 1) * H; ++e) D[e] = dh[e] * (relu ? s_t(y[e] > 0) : dtanh(y[e]));
    });
    gemm_nn<s_t>(r.B, H, H, D, H, r.w(), H, 0, g.p(g.du), H);  // du = dL/da W_hh
  }
};

// ---------------------------------------------------------------------- LSTM and variants
// h_t = o * tanh(c_t) for all four; the gate blocks and the c update differ.
template <typename s_t>
inline void emit(int64_t H, const s_t* o, const s_t* c, s_t* k, s_t* h) {  // k = tanh(c_t), h_t = o * k
  tanh(c, k, H);
  for (int64_t j = 0; j < H; ++j) h[j] = o[j] * k[j];
}

// Standard (i, f, g, o):  c = f c_prev + i g.
template <typename s_t>
struct Lstm {
  static constexpr int G = 4;
  static void step(Run<s_t>& r, int64_t t, const s_t* u) {
    const int64_t H = r.H, GH = r.A.size(2);
    gemm_nt<s_t>(r.B, GH, H, u, H, r.w(), H, 1, r.a(t), GH);  // a = xp + u W_hh^T
    s_t *A = r.a(t), *cp = r.c(t), *c = r.c(t + 1), *K = r.k(t), *h = r.h(t + 1);
    rows(r.B, 16 * H, [&](int64_t b) {
      s_t *i = A + b * 4 * H, *f = i + H, *gg = i + 2 * H, *o = i + 3 * H;
      const int64_t e = b * H;
      sigmoid(i, i, 2 * H);
      tanh(gg, gg, H);
      sigmoid(o, o, H);
      for (int64_t j = 0; j < H; ++j) c[e + j] = f[j] * cp[e + j] + i[j] * gg[j];
      emit(H, o, c + e, K + e, h + e);
    });
  }
  static void step_backward(Run<s_t>& r, Grad<s_t>& g, int64_t t, const s_t*) {
    const int64_t H = r.H;
    s_t *A = r.a(t), *D = r.d(t), *K = r.k(t), *cp = r.c(t), *dh = g.p(g.dh), *dc = g.p(g.dc);
    rows(r.B, 8 * H, [&](int64_t b) {
      const s_t* a = A + b * 4 * H;
      s_t* d = D + b * 4 * H;
      for (int64_t j = 0; j < H; ++j) {
        const int64_t e = b * H + j;
        const s_t i = a[j], f = a[H + j], gg = a[2 * H + j], o = a[3 * H + j], tc = K[e];
        const s_t d_c = dc[e] + dh[e] * o * dtanh(tc);
        d[j] = d_c * gg * dsig(i);
        d[H + j] = d_c * cp[e] * dsig(f);
        d[2 * H + j] = d_c * i * dtanh(gg);
        d[3 * H + j] = dh[e] * tc * dsig(o);
        dc[e] = d_c * f;
      }
    });
    gemm_nn<s_t>(r.B, H, r.A.size(2), D, r.A.size(2), r.w(), H, 0, g.p(g.du), H);  // du = dL/da W_hh
  }
};

// Peephole (i, f, g, o):  i, f see c_{t-1}, o sees c_t through diagonal weights V_i, V_f, V_o.
template <typename s_t>
struct LstmPeephole {
  static constexpr int G = 4;
  static void step(Run<s_t>& r, int64_t t, const s_t* u) {
    const int64_t H = r.H, GH = r.A.size(2);
    gemm_nt<s_t>(r.B, GH, H, u, H, r.w(), H, 1, r.a(t), GH);  // a = xp + u W_hh^T
    s_t *A = r.a(t), *cp = r.c(t), *c = r.c(t + 1), *K = r.k(t), *h = r.h(t + 1);
    const s_t *vi = r.v_i, *vf = r.v_f, *vo = r.v_o;
    rows(r.B, 16 * H, [&](int64_t b) {
      s_t* x = A + b * 4 * H;
      const int64_t e = b * H;
      for (int64_t j = 0; j < H; ++j) {
        x[j] += vi[j] * cp[e + j];
        x[H + j] += vf[j] * cp[e + j];
      }
      sigmoid(x, x, 2 * H);
      tanh(x + 2 * H, x + 2 * H, H);
      for (int64_t j = 0; j < H; ++j) {
        const s_t cn = x[H + j] * cp[e + j] + x[j] * x[2 * H + j];
        c[e + j] = cn;
        x[3 * H + j] += vo[j] * cn;
      }
      sigmoid(x + 3 * H, x + 3 * H, H);
      emit(H, x + 3 * H, c + e, K + e, h + e);
    });
  }
  static void step_backward(Run<s_t>& r, Grad<s_t>& g, int64_t t, const s_t*) {
    const int64_t H = r.H;
    s_t *A = r.a(t), *D = r.d(t), *K = r.k(t), *cp = r.c(t), *dh = g.p(g.dh), *dc = g.p(g.dc);
    const s_t *vi = r.v_i, *vf = r.v_f, *vo = r.v_o;
    rows(r.B, 8 * H, [&](int64_t b) {
      const s_t* a = A + b * 4 * H;
      s_t* d = D + b * 4 * H;
      for (int64_t j = 0; j < H; ++j) {
        const int64_t e = b * H + j;
        const s_t i = a[j], f = a[H + j], gg = a[2 * H + j], o = a[3 * H + j], tc = K[e];
        const s_t d_a_o = dh[e] * tc * dsig(o);
        const s_t d_c = dc[e] + dh[e] * o * dtanh(tc) + d_a_o * vo[j];
        const s_t d_a_i = d_c * gg * dsig(i), d_a_f = d_c * cp[e] * dsig(f);
        d[j] = d_a_i;
        d[H + j] = d_a_f;
        d[2 * H + j] = d_c * i * dtanh(gg);
        d[3 * H + j] = d_a_o;
        dc[e] = d_c * f + d_a_i * vi[j] + d_a_f * vf[j];
      }
    });
    gemm_nn<s_t>(r.B, H, r.A.size(2), D, r.A.size(2), r.w(), H, 0, g.p(g.du), H);  // du = dL/da W_hh
  }
};

// Coupled (i, g, o): f = 1 - i, c = c_prev + i (g - c_prev).   No forget gate (i, g, o): c = c_prev + i g.
template <typename s_t, bool coupled>
struct Lstm3 {
  static constexpr int G = 3;
  static void step(Run<s_t>& r, int64_t t, const s_t* u) {
    const int64_t H = r.H, GH = r.A.size(2);
    gemm_nt<s_t>(r.B, GH, H, u, H, r.w(), H, 1, r.a(t), GH);  // a = xp + u W_hh^T
    s_t *A = r.a(t), *cp = r.c(t), *c = r.c(t + 1), *K = r.k(t), *h = r.h(t + 1);
    rows(r.B, 12 * H, [&](int64_t b) {
      s_t *i = A + b * 3 * H, *gg = i + H, *o = i + 2 * H;
      const int64_t e = b * H;
      sigmoid(i, i, H);
      tanh(gg, gg, H);
      sigmoid(o, o, H);
      for (int64_t j = 0; j < H; ++j) {
        const s_t p = cp[e + j];
        c[e + j] = p + i[j] * (coupled ? gg[j] - p : gg[j]);
      }
      emit(H, o, c + e, K + e, h + e);
    });
  }
  static void step_backward(Run<s_t>& r, Grad<s_t>& g, int64_t t, const s_t*) {
    const int64_t H = r.H;
    s_t *A = r.a(t), *D = r.d(t), *K = r.k(t), *cp = r.c(t), *dh = g.p(g.dh), *dc = g.p(g.dc);
    rows(r.B, 6 * H, [&](int64_t b) {
      const s_t* a = A + b * 3 * H;
      s_t* d = D + b * 3 * H;
      for (int64_t j = 0; j < H; ++j) {
        const int64_t e = b * H + j;
        const s_t i = a[j], gg = a[H + j], o = a[2 * H + j], tc = K[e];
        const s_t d_c = dc[e] + dh[e] * o * dtanh(tc);
        d[j] = d_c * (coupled ? gg - cp[e] : gg) * dsig(i);
        d[H + j] = d_c * i * dtanh(gg);
        d[2 * H + j] = dh[e] * tc * dsig(o);
        dc[e] = coupled ? d_c - d_c * i : d_c;
      }
    });
    gemm_nn<s_t>(r.B, H, r.A.size(2), D, r.A.size(2), r.w(), H, 0, g.p(g.du), H);  // du = dL/da W_hh
  }
};

// -------------------------------------------------------------------------------------- GRU
// Gates (r, z, n); A holds xp = W_ih x + b_ih only (b_hh enters here).  h = n + z (h_prev - n).
template <typename s_t>
inline void gru_update(int64_t H, const s_t* a, const s_t* h_prev, s_t* h) {  // a: the row (r, z, n)
  const s_t *z = a + H, *n = a + 2 * H;
  for (int64_t j = 0; j < H; ++j) h[j] = n[j] + z[j] * (h_prev[j] - n[j]);
}

// Back through h = z h_prev + (1 - z) n for one row: from the gates a = (r, z, n) writes dL/da_z, dL/da_n
// into d and the direct part z dh of dL/dh_{t-1} into direct.
template <typename s_t>
inline void gru_update_backward(int64_t H, const s_t* a, const s_t* dh, const s_t* h_prev, s_t* d, s_t* direct) {
  for (int64_t j = 0; j < H; ++j) {
    const s_t z = a[H + j], n = a[2 * H + j], d_prev = dh[j] * z;
    direct[j] = d_prev;
    d[H + j] = dh[j] * (h_prev[j] - n) * dsig(z);
    d[2 * H + j] = (dh[j] - d_prev) * dtanh(n);
  }
}

// Reset after the product (torch.nn.GRU): n = tanh(x_n + r * (W_hn u + b_hn)).
template <typename s_t>
struct Gru {
  static constexpr int G = 3;
  static void step(Run<s_t>& r, int64_t t, const s_t* u) {
    const int64_t H = r.H;
    s_t *A = r.a(t), *P = r.scratch.template data_ptr<s_t>(), *K = r.k(t), *hp = r.h(t), *h = r.h(t + 1);
    const s_t* bias = r.b_hh.template data_ptr<s_t>();
    gemm_nt<s_t>(r.B, 3 * H, H, u, H, r.w(), H, 0, P, 3 * H);  // (B, 3H): u W_hh^T, then + b_hh below
    rows(r.B, 12 * H, [&](int64_t b) {
      s_t *x = A + b * 3 * H, *p = P + b * 3 * H;
      const int64_t e = b * H;
      for (int64_t j = 0; j < 2 * H; ++j) x[j] += p[j] + bias[j];
      sigmoid(x, x, 2 * H);
      for (int64_t j = 0; j < H; ++j) {
        const s_t hn = p[2 * H + j] + bias[2 * H + j];
        K[e + j] = hn;
        x[2 * H + j] += x[j] * hn;
      }
      tanh(x + 2 * H, x + 2 * H, H);
      gru_update(H, x, hp + e, h + e);
    });
  }
  static void step_backward(Run<s_t>& r, Grad<s_t>& g, int64_t t, const s_t*) {
    const int64_t H = r.H;
    s_t *A = r.a(t), *D = r.d(t), *K = r.k(t), *Dn = r.dn(t), *dh = g.p(g.dh), *hp = r.h(t);
    s_t* direct = g.p(g.dh_direct);
    rows(r.B, 6 * H, [&](int64_t b) {
      const s_t* a = A + b * 3 * H;
      s_t* d = D + b * 3 * H;
      gru_update_backward(H, a, dh + b * H, hp + b * H, d, direct + b * H);
      for (int64_t j = 0; j < H; ++j) {
        const s_t rr = a[j], d_a_n = d[2 * H + j];
        d[j] = d_a_n * K[b * H + j] * dsig(rr);
        Dn[b * H + j] = d_a_n * rr;  // dL/dh_n, the n block of dL/d(W_hh u + b_hh)
      }
    });
    gemm_nn<s_t>(r.B, H, 2 * H, D, 3 * H, r.w(), H, 0, g.p(g.du), H);  // du = dL/da_{r,z} W_hrz + dL/dh_n W_hn
    gemm_nn<s_t>(r.B, H, H, Dn, H, r.w() + 2 * H * H, H, 1, g.p(g.du), H);
  }
};

// Reset before the product (the notes): n = tanh(x_n + W_hn (r * u) + b_hn).
template <typename s_t>
struct GruBefore {
  static constexpr int G = 3;
  static void step(Run<s_t>& r, int64_t t, const s_t* u) {
    const int64_t H = r.H;
    s_t *A = r.a(t), *K = r.k(t), *hp = r.h(t), *h = r.h(t + 1);
    const s_t *U = u, *bias = r.b_hh.template data_ptr<s_t>();
    rows(r.B, 3 * H, [&](int64_t b) {
      s_t* x = A + b * 3 * H;
      for (int64_t j = 0; j < 3 * H; ++j) x[j] += bias[j];
    });
    gemm_nt<s_t>(r.B, 2 * H, H, u, H, r.w(), H, 1, A, 3 * H);  // a_rz += u W_hrz^T
    rows(r.B, 8 * H, [&](int64_t b) {
      s_t* x = A + b * 3 * H;
      sigmoid(x, x, 2 * H);
      for (int64_t j = 0; j < H; ++j) K[b * H + j] = x[j] * U[b * H + j];
    });
    gemm_nt<s_t>(r.B, H, H, K, H, r.w() + 2 * H * H, H, 1, A + 2 * H, 3 * H);  // a_n += (r * u) W_hn^T
    rows(r.B, 4 * H, [&](int64_t b) {
      s_t* x = A + b * 3 * H;
      tanh(x + 2 * H, x + 2 * H, H);
      gru_update(H, x, hp + b * H, h + b * H);
    });
  }
  static void step_backward(Run<s_t>& r, Grad<s_t>& g, int64_t t, const s_t* U) {
    const int64_t H = r.H;
    s_t *A = r.a(t), *Dd = r.d(t), *dh = g.p(g.dh), *hp = r.h(t), *direct = g.p(g.dh_direct);
    rows(r.B, 2 * H, [&](int64_t b) {
      gru_update_backward(H, A + b * 3 * H, dh + b * H, hp + b * H, Dd + b * 3 * H, direct + b * H);
    });
    Tensor d_ru = g.scratch[0], ru_grad = g.scratch[1];  // dL/d(r * u) = W_hn^T dL/da_n, and it times r
    gemm_nn<s_t>(r.B, H, H, Dd + 2 * H, 3 * H, r.w() + 2 * H * H, H, 0, d_ru.data_ptr<s_t>(), H);
    const s_t* D = d_ru.data_ptr<s_t>();
    s_t* extra = ru_grad.data_ptr<s_t>();
    rows(r.B, H, [&](int64_t b) {
      const s_t* a = A + b * 3 * H;
      for (int64_t j = 0; j < H; ++j) {
        const int64_t e = b * H + j;
        const s_t rr = a[j];
        Dd[b * 3 * H + j] = D[e] * U[e] * dsig(rr);
        extra[e] = D[e] * rr;
      }
    });
    gemm_nn<s_t>(r.B, H, 2 * H, Dd, 3 * H, r.w(), H, 0, g.p(g.du), H);  // du = dL/da_{r,z} W_hrz + d_ru * r
    g.du.add_(ru_grad);
  }
};

// ------------------------------------------------------------------------------- the driver
bool is_lstm(int64_t kind) { return kind >= LSTM && kind <= LSTM_NO_FORGET; }
int64_t gates(int64_t kind) {
  switch (kind) {
    case LSTM: case LSTM_PEEPHOLE: return 4;
    case LSTM_COUPLED: case LSTM_NO_FORGET: case GRU: case GRU_BEFORE: return 3;
    default: return 1;
  }
}

template <typename s_t>
Run<s_t> make_run(int64_t kind, const Tensor& A, const Tensor& Hs, const Tensor& Cs, const Tensor& K,
                  const std::vector<Tensor>& w) {
  Run<s_t> r{Hs.size(0) - 1, Hs.size(1), Hs.size(2), A, Hs, Cs, K, w[0], w[1]};
  if (kind == LSTM_PEEPHOLE) {
    r.v_i = w[2].data_ptr<s_t>();
    r.v_f = w[3].data_ptr<s_t>();
    r.v_o = w[4].data_ptr<s_t>();
  }
  r.scratch = at::empty({r.B, w[0].size(0)}, Hs.options());
  return r;
}

// Carry the state of masked rows (m[t, b] false) and zero their output: s_t = m ? s'_t : s_{t-1}.
template <typename s_t>
void carry(Run<s_t>& r, int64_t t, const bool* m, s_t* out) {
  const int64_t H = r.H;
  rows(r.B, H, [&](int64_t b) {
    const bool keep = m[t * r.B + b];
    s_t *h = r.h(t + 1) + b * H, *o = out + (t * r.B + b) * H;
    if (!keep) {
      std::copy(r.h(t) + b * H, r.h(t) + (b + 1) * H, h);
      if (r.Cs.defined()) std::copy(r.c(t) + b * H, r.c(t) + (b + 1) * H, r.c(t + 1) + b * H);
    }
    for (int64_t j = 0; j < H; ++j) o[j] = keep ? h[j] : s_t(0);
  });
}

template <typename s_t, typename Cell>
void forward_loop(Run<s_t>& r, const c10::optional<Tensor>& mask, const c10::optional<Tensor>& u_mask,
                  Tensor& out) {
  Tensor u = u_mask ? at::empty({r.B, r.H}, r.Hs.options()) : Tensor();
  const bool* m = mask ? mask->data_ptr<bool>() : nullptr;
  for (int64_t t = 0; t < r.T; ++t) {
    if (u_mask) at::mul_out(u, r.Hs[t], *u_mask);
    Cell::step(r, t, u_mask ? u.data_ptr<s_t>() : r.h(t));
    if (m) carry(r, t, m, out.data_ptr<s_t>());
  }
}

template <typename s_t, typename Cell>
void backward_loop(Run<s_t>& r, Grad<s_t>& g, const Tensor& d_out, const c10::optional<Tensor>& mask,
                   const c10::optional<Tensor>& u_mask, Tensor& d_h) {
  const int64_t H = r.H, n = r.B * H;
  const bool* m = mask ? mask->data_ptr<bool>() : nullptr;
  const bool lstm = g.dc.defined();
  Tensor u = u_mask ? at::empty({r.B, H}, r.Hs.options()) : Tensor();
  Tensor carry_h = at::zeros({r.B, H}, r.Hs.options()), carry_c = at::zeros_like(carry_h);
  s_t *dH = d_h.data_ptr<s_t>(), *dh = g.p(g.dh), *dc = lstm ? g.p(g.dc) : nullptr;
  s_t *ch = carry_h.data_ptr<s_t>(), *cc = carry_c.data_ptr<s_t>(), *direct = g.p(g.dh_direct);
  const s_t* um = u_mask ? u_mask->data_ptr<s_t>() : nullptr;
  for (int64_t t = r.T - 1; t >= 0; --t) {
    const s_t* dout = d_out.data_ptr<s_t>() + t * n;
    rows(r.B, H, [&](int64_t b) {  // dL/dh_t: from the output and from step t+1; masked rows pass it on
      const bool keep = !m || m[t * r.B + b];
      for (int64_t e = b * H; e < (b + 1) * H; ++e) {
        dh[e] = keep ? dH[e] + dout[e] : s_t(0);
        ch[e] = keep ? s_t(0) : dH[e];
        if (lstm) {
          cc[e] = keep ? s_t(0) : dc[e];
          dc[e] = keep ? dc[e] : s_t(0);
        }
      }
    });
    if (u_mask) at::mul_out(u, r.Hs[t], *u_mask);
    Cell::step_backward(r, g, t, u_mask ? u.data_ptr<s_t>() : r.h(t));
    const s_t* du = g.p(g.du);
    rows(r.B, H, [&](int64_t b) {  // dL/dh_{t-1} = dL/du_t * mask + the direct part (+ the carried part)
      for (int64_t e = b * H; e < (b + 1) * H; ++e) {
        dH[e] = (um ? du[e] * um[e] : du[e]) + direct[e] + ch[e];
        if (lstm) dc[e] += cc[e];
      }
    });
  }
}

// Gradients of (w_hh, b_hh, *extra) from all steps at once; D holds dL/da, U is u stacked (T*B, H).
template <typename s_t>
std::vector<Tensor> param_grads(int64_t kind, Run<s_t>& r, const Tensor& U) {
  const int64_t H = r.H;
  Tensor D = r.D.view({r.T * r.B, -1});
  if (kind == GRU || kind == GRU_BEFORE) {
    Tensor D_rz = D.narrow(1, 0, 2 * H);
    Tensor D_n = kind == GRU ? r.Dn.view({-1, H}) : D.narrow(1, 2 * H, H);  // dL/dh_n or dL/da_n
    Tensor U_n = kind == GRU ? U : r.K.view({-1, H});                       // u or r * u
    return {at::cat({D_rz.t().mm(U), D_n.t().mm(U_n)}, 0), at::cat({D_rz.sum(0), D_n.sum(0)}, 0)};
  }
  std::vector<Tensor> grads{D.t().mm(U), D.sum(0)};
  if (kind == LSTM_PEEPHOLE) {
    Tensor cp = r.Cs.narrow(0, 0, r.T).reshape({-1, H}), c = r.Cs.narrow(0, 1, r.T).reshape({-1, H});
    grads.push_back((D.narrow(1, 0, H) * cp).sum(0));
    grads.push_back((D.narrow(1, H, H) * cp).sum(0));
    grads.push_back((D.narrow(1, 3 * H, H) * c).sum(0));
  }
  return grads;
}

template <typename s_t, typename F>
void dispatch_cell(int64_t kind, const F& f) {
  switch (kind) {
    case RNN_TANH: f(Elman<s_t, false>()); break;
    case RNN_RELU: f(Elman<s_t, true>()); break;
    case LSTM: f(Lstm<s_t>()); break;
    case LSTM_PEEPHOLE: f(LstmPeephole<s_t>()); break;
    case LSTM_COUPLED: f(Lstm3<s_t, true>()); break;
    case LSTM_NO_FORGET: f(Lstm3<s_t, false>()); break;
    case GRU: f(Gru<s_t>()); break;
    case GRU_BEFORE: f(GruBefore<s_t>()); break;
    default: TORCH_CHECK(false, "seqlab::recurrence: unknown cell kind ", kind);
  }
}

void check(const Tensor& xp, const std::vector<Tensor>& state, const std::vector<Tensor>& w) {
  TORCH_CHECK(xp.device().is_cpu() && xp.dim() == 3 && xp.is_contiguous(), "xp must be a contiguous (T, B, G*H) CPU tensor");
  for (const auto& s : state) TORCH_CHECK(s.is_contiguous() && s.scalar_type() == xp.scalar_type(), "bad state");
  for (const auto& p : w) TORCH_CHECK(p.is_contiguous() && p.scalar_type() == xp.scalar_type(), "bad weight");
}

// forward(kind, xp, state, w, mask, u_mask) -> [out, Hs, Cs, K]; xp is taken over (becomes A).
std::vector<Tensor> forward(int64_t kind, Tensor xp, std::vector<Tensor> state, std::vector<Tensor> w,
                            c10::optional<Tensor> mask, c10::optional<Tensor> u_mask) {
  check(xp, state, w);
  TORCH_CHECK(xp.size(2) == gates(kind) * state[0].size(1), "xp's last size must be G*H");
  at::NoGradGuard no_grad;
  const int64_t T = xp.size(0), B = xp.size(1), H = state[0].size(1);
  Tensor Hs = at::empty({T + 1, B, H}, xp.options()), Cs, K;
  Hs[0].copy_(state[0]);
  if (is_lstm(kind)) {
    Cs = at::empty({T + 1, B, H}, xp.options());
    Cs[0].copy_(state[1]);
  }
  if (kind != RNN_TANH && kind != RNN_RELU) K = at::empty({T, B, H}, xp.options());
  Tensor out = mask ? at::empty({T, B, H}, xp.options()) : Hs.narrow(0, 1, T);
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "seqlab_recurrence_forward", [&] {
    Run<scalar_t> r = make_run<scalar_t>(kind, xp, Hs, Cs, K, w);
    dispatch_cell<scalar_t>(kind, [&](auto cell) { forward_loop<scalar_t, decltype(cell)>(r, mask, u_mask, out); });
  });
  return {out, Hs, Cs.defined() ? Cs : Tensor(), K.defined() ? K : Tensor()};
}

// backward(kind, A, Hs, Cs, K, w, d_out, d_state, mask, u_mask) -> [d_xp, d_h0, (d_c0), d_w_hh, d_b_hh, *d_extra].
// The Elman cell needs no A: its activation h'_t is Hs[t+1] wherever the step counts (masked rows get zero
// gradient whatever they hold), so its caller keeps only Hs.
// With in_place (the graph is not kept for another backward) D takes over A's buffer and Dn K's: every step
// reads its activations before it writes its gradients at the same places, and saves a (T, B, G*H) allocation.
std::vector<Tensor> backward(int64_t kind, c10::optional<Tensor> A_, Tensor Hs, c10::optional<Tensor> Cs,
                             c10::optional<Tensor> K, std::vector<Tensor> w, Tensor d_out, std::vector<Tensor> d_state,
                             c10::optional<Tensor> mask, c10::optional<Tensor> u_mask, bool in_place) {
  at::NoGradGuard no_grad;
  const int64_t T = Hs.size(0) - 1, B = Hs.size(1), H = Hs.size(2);
  const Tensor A = A_ ? *A_ : Tensor();
  d_out = d_out.contiguous();
  Tensor d_h = d_state[0].contiguous().clone();
  std::vector<Tensor> result;
  AT_DISPATCH_FLOATING_TYPES(Hs.scalar_type(), "seqlab_recurrence_backward", [&] {
    Run<scalar_t> r = make_run<scalar_t>(kind, A, Hs, Cs ? *Cs : Tensor(), K ? *K : Tensor(), w);
    r.D = in_place && A.defined() ? A : at::empty({T, B, w[0].size(0)}, Hs.options());
    if (kind == GRU) r.Dn = in_place ? r.K : at::empty({T, B, H}, Hs.options());
    Grad<scalar_t> g;
    g.dh = at::empty({B, H}, Hs.options());
    g.du = at::empty({B, H}, Hs.options());
    g.dh_direct = at::zeros({B, H}, Hs.options());
    g.scratch = at::empty({2, B, H}, Hs.options());
    if (is_lstm(kind)) g.dc = d_state[1].contiguous().clone();
    dispatch_cell<scalar_t>(kind, [&](auto cell) {
      backward_loop<scalar_t, decltype(cell)>(r, g, d_out, mask, u_mask, d_h);
    });
    Tensor U = Hs.narrow(0, 0, T).reshape({T * B, H});
    if (u_mask) U = (Hs.narrow(0, 0, T) * *u_mask).reshape({T * B, H});
    result = {r.D, d_h};
    if (is_lstm(kind)) result.push_back(g.dc);
    for (auto& d : param_grads<scalar_t>(kind, r, U)) result.push_back(d);
  });
  return result;
}

// The floor of benchmarks/recurrent_speed.py: the products any implementation of the recurrence must do,
// alone, through the same BLAS calls as the loop above -- x W_ih^T; T products u_t W_hh^T forward; T
// products dL/da_t W_hh backward; dW_hh, dW_ih and dL/dx.  x (T*B, I), d (T*B, G*H), hs (T*B, H).
void products(int64_t steps, Tensor x, Tensor w_ih, Tensor w_hh, Tensor d, Tensor hs, Tensor xp, Tensor dx,
              Tensor dw_ih, Tensor dw_hh) {
  at::NoGradGuard no_grad;
  const int64_t B = x.size(0) / steps, GH = w_hh.size(0), H = w_hh.size(1);
  at::mm_out(xp, x, w_ih.t());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "seqlab_products", [&] {
    Tensor step = at::empty({B, GH}, x.options()), dh = at::empty({B, H}, x.options());
    const scalar_t *W = w_hh.data_ptr<scalar_t>(), *h = hs.data_ptr<scalar_t>(), *D = d.data_ptr<scalar_t>();
    for (int64_t t = 0; t < steps; ++t)
      gemm_nt<scalar_t>(B, GH, H, h + t * B * H, H, W, H, 0, step.data_ptr<scalar_t>(), GH);
    for (int64_t t = steps - 1; t >= 0; --t)
      gemm_nn<scalar_t>(B, H, GH, D + t * B * GH, GH, W, H, 0, dh.data_ptr<scalar_t>(), H);
  });
  at::mm_out(dw_hh, d.t(), hs);
  at::mm_out(dw_ih, d.t(), x);
  at::mm_out(dx, d, w_ih);
}

// Whether sigmoid and tanh above are the vectorised ones (else seqlab.nn.fused leaves this library unused).
bool vectorized() { return kVectorized; }

TORCH_LIBRARY(seqlab, m) {
  m.def("vectorized() -> bool", &vectorized);
  m.def("products(int steps, Tensor x, Tensor w_ih, Tensor w_hh, Tensor d, Tensor hs, Tensor(a!) xp, Tensor(b!) dx, "
        "Tensor(c!) dw_ih, Tensor(d!) dw_hh) -> ()",
        &products);
  m.def("recurrence_forward(int kind, Tensor xp, Tensor[] state, Tensor[] w, Tensor? mask, Tensor? u_mask) -> Tensor[]",
        &forward);
  m.def("recurrence_backward(int kind, Tensor? A, Tensor Hs, Tensor? Cs, Tensor? K, Tensor[] w, Tensor d_out, "
        "Tensor[] d_state, Tensor? mask, Tensor? u_mask, bool in_place) -> Tensor[]",
        &backward);
}

}  // namespace seqlab
