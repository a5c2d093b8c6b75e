// What every cell of the C++ loop shares: the row loop, vector sigmoid/tanh, the BLAS products, and the
// views a step gets of the buffers (see recurrence.cpp for the buffers and the driver).
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#include <sleef.h>
#endif

namespace seqlab {

using at::Tensor;

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

// sigmoid and tanh over n contiguous values, in place (y == x) or not.  Built with AVX-512 or AVX2 they use
// the SLEEF library inside libtorch_cpu, 16 floats or 8 doubles at a time (AVX-512), 8 or 4 (AVX2):
// sigmoid = 1 / (1 + exp(-x)) with the 1-ulp exp, as ATen's own sigmoid kernel; tanh with SLEEF's 3.5-ulp
// tanh, where ATen's uses the 1-ulp one (2.7x slower in float, 2.1x in double, on the benchmark machine).
// Built for no named instruction set (the generic build), their own polynomials (see below).  seqlab.nn.fused
// compiles one library per instruction set and loads the one for the CPU it runs on.
#if defined(__AVX512F__)
constexpr const char* kIsa = "AVX512";
template <typename s_t> struct Vec;
template <> struct Vec<float> {
  using R = __m512;
  static constexpr int n = 16;
  static R load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, R v) { _mm512_storeu_ps(p, v); }
  static R sigmoid(R x) {
    const R one = _mm512_set1_ps(1.f);
    return _mm512_div_ps(one, _mm512_add_ps(one, Sleef_expf16_u10(_mm512_sub_ps(_mm512_setzero_ps(), x))));
  }
  static R tanh(R x) { return Sleef_tanhf16_u35(x); }
};
template <> struct Vec<double> {
  using R = __m512d;
  static constexpr int n = 8;
  static R load(const double* p) { return _mm512_loadu_pd(p); }
  static void store(double* p, R v) { _mm512_storeu_pd(p, v); }
  static R sigmoid(R x) {
    const R one = _mm512_set1_pd(1.);
    return _mm512_div_pd(one, _mm512_add_pd(one, Sleef_expd8_u10(_mm512_sub_pd(_mm512_setzero_pd(), x))));
  }
  static R tanh(R x) { return Sleef_tanhd8_u35(x); }
};
#elif defined(__AVX2__)
constexpr const char* kIsa = "AVX2";
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
#endif
#if defined(__AVX2__) || defined(__AVX512F__)
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
// No vector instruction set named (x86 below AVX2, ARM, ...): sigmoid and tanh in plain C++ that the compiler
// vectorises for the target's baseline (SSE2 on x86-64, NEON on aarch64): float through Cephes's expf and tanhf
// polynomials (about 1 and 2 ulp), branch-free so that the loops vectorise; double through the C library.
constexpr const char* kIsa = "DEFAULT";
inline float exp_poly(float x) {  // e^x = 2^n e^r, n = round(x / ln 2), |r| <= ln(2) / 2
  x = std::min(std::max(x, -87.3f), 88.3f);
  const float n = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;  // round to nearest (1.5 * 2^23)
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;           // x - n ln 2 in two parts (Cody-Waite)
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;  // 2^n
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}
inline float tanh_poly(float x) {  // |x| < 0.625: x + x^3 P(x^2); else sign(x) (1 - 2 / (e^{2|x|} + 1))
  const float a = std::fabs(x), z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = x + x * z * p;
  const float big = std::copysign(1.f - 2.f / (exp_poly(2.f * std::min(a, 9.f)) + 1.f), x);
  return a < 0.625f ? small : big;
}
template <typename s_t>
inline void sigmoid(const s_t* x, s_t* y, int64_t n) {
  if constexpr (std::is_same_v<s_t, float>) {
    for (int64_t j = 0; j < n; ++j) y[j] = 1.f / (1.f + exp_poly(-x[j]));
  } else {
    for (int64_t j = 0; j < n; ++j) y[j] = 1 / (1 + std::exp(-x[j]));
  }
}
template <typename s_t>
inline void tanh(const s_t* x, s_t* y, int64_t n) {
  if constexpr (std::is_same_v<s_t, float>) {
    for (int64_t j = 0; j < n; ++j) y[j] = tanh_poly(x[j]);
  } else {
    for (int64_t j = 0; j < n; ++j) y[j] = std::tanh(x[j]);
  }
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
  // Inference keeps less: A holds steps a0 .. a0 + A.size(0) - 1 only (the input projection of a chunk of
  // steps), Cs two steps (t and t+1, by parity) and K one.
  int64_t a0 = 0;
  bool rolling = false;
  s_t* a(int64_t t) { return A.data_ptr<s_t>() + (t - a0) * B * A.size(2); }
  s_t* h(int64_t t) { return Hs.data_ptr<s_t>() + t * B * H; }
  s_t* c(int64_t t) { return Cs.data_ptr<s_t>() + (rolling ? t & 1 : t) * B * H; }
  s_t* k(int64_t t) { return K.data_ptr<s_t>() + (rolling ? 0 : t) * B * H; }
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

}  // namespace seqlab
