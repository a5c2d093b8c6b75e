// Vector sigmoid and tanh, and the register type Vec of the products (gemm.h), per instruction set: this file is
// compiled once per build of seqlab.nn.fused.ISAS (AVX-512, AVX2+FMA, or the target's baseline).
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#include <sleef.h>
#endif

namespace seqlab {

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
  static R zero() { return _mm512_setzero_ps(); }
  static R set1(float x) { return _mm512_set1_ps(x); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
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
  static R zero() { return _mm512_setzero_pd(); }
  static R set1(double x) { return _mm512_set1_pd(x); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_pd(a, b, c); }
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
  static R zero() { return _mm256_setzero_ps(); }
  static R set1(float x) { return _mm256_set1_ps(x); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
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
  static R zero() { return _mm256_setzero_pd(); }
  static R set1(double x) { return _mm256_set1_pd(x); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_pd(a, b, c); }
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

}  // namespace seqlab
