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

// What a step sees: the buffers (see the top of the file), the weights, and per-step scratch.  A run steps B rows of
// the batch, from row b0 of the buffers' S rows a step: all of them, or one thread's share (share()).
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
  int64_t S = 0, b0 = 0;
  int64_t row(int64_t t) const { return t * S + b0; }  // the buffers' row of this run's first row at step t
  int64_t SA = 0, ab0 = 0;  // the same for A (a thread's own chunk buffer in a split inference: its rows alone)
  s_t* a(int64_t t) { return A.data_ptr<s_t>() + ((t - a0) * SA + ab0) * A.size(2); }
  s_t* h(int64_t t) { return Hs.data_ptr<s_t>() + row(t) * H; }
  s_t* c(int64_t t) { return Cs.data_ptr<s_t>() + row(rolling ? t & 1 : t) * H; }
  s_t* k(int64_t t) { return K.data_ptr<s_t>() + row(rolling ? 0 : t) * H; }
  Tensor D, Dn;  // backward: dL/d(pre-activation) (T, B, G*H); the GRU's dL/dh_n (T, B, H)
  s_t* d(int64_t t) { return D.data_ptr<s_t>() + row(t) * D.size(2); }
  s_t* dn(int64_t t) { return Dn.data_ptr<s_t>() + row(t) * H; }
  Recurrent<s_t> W;  // the products with W_hh (gemm.h)
  // The same run on n of its rows from its row `first` (scratch of its own; the packed weights shared).
  Run share(int64_t first, int64_t n) const {
    Run r = *this;
    r.b0 = b0 + first;
    r.ab0 = ab0 + first;
    r.B = n;
    if (scratch.defined()) r.scratch = at::empty({n, scratch.size(1)}, scratch.options());
    return r;
  }
};

// What a backward step gets and gives: dh is dL/dh_t (in), dc dL/dc_t (in) -> dL/dc_{t-1} (out,
// direct part), dh_direct the direct part of dL/dh_{t-1} (GRU's z * dh; zero for the others),
// du = dL/du_t.  Each (B, H), or a thread's rows of them (share()).
template <typename s_t>
struct Grad {
  Tensor dh, dc, dh_direct, du, scratch;
  s_t* p(Tensor& x) { return x.data_ptr<s_t>(); }
  Grad share(int64_t first, int64_t n) const {
    const auto rows = [&](const Tensor& x) { return x.defined() ? x.narrow(0, first, n) : x; };
    return {rows(dh), rows(dc), rows(dh_direct), rows(du), rows(scratch)};
  }
};

// f(first, last) on the batch rows [0, B) split over the threads, each thread stepping its share through the whole
// sequence with no wait between steps (a row of the recurrence depends on its own row alone; W_hh is read by all),
// where the products are seqlab's packed ones and there are at least kMinRows rows for each of two threads; else
// f(0, B) on this thread, whose row passes and products split each step by themselves where it pays.  Inside,
// at::parallel_for runs serially.
constexpr int64_t kMinRows = 2;
template <typename F>
void by_rows(bool packed, int64_t B, const F& f) {
  if (!packed || at::get_num_threads() < 2 || B < 2 * kMinRows) return f(int64_t(0), B);
  at::parallel_for(0, B, kMinRows, f);
}

// f(run) for each thread's share of the rows of r (the whole batch), split as by_rows splits them.
template <typename s_t, typename F>
void each_share(const Run<s_t>& r, const F& f) {
  by_rows(r.W.packed(), r.B, [&](int64_t first, int64_t last) {
    Run<s_t> share = r.share(first, last - first);
    f(share);
  });
}

}  // namespace seqlab
