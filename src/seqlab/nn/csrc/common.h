// What every cell of the C++ loop shares: the row loop and the views a step gets of the buffers and the weights
// (see recurrence.cpp for the buffers and the driver; vec.h for sigmoid and tanh, gemm.h for the products).
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "gemm.h"
#include "vec.h"

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
  Recurrent<s_t> W;  // the products with W_hh (gemm.h)
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
