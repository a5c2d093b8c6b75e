// The Elman cell of seqlab/nn/elman.py in C++.
// Each cell: its forward step and its hand-derived backward step side by side (see common.h for Run, Grad).
#pragma once

#include "common.h"

namespace seqlab {

// ------------------------------------------------------------------------------------ Elman
// h_t = f(a),  a = xp_t + W_hh u  (xp holds both biases);  delta = dh * f'(a), du = W_hh^T delta.
template <typename s_t, bool relu>
struct Elman {
  static constexpr int G = 1;
  static void step(Run<s_t>& r, int64_t t, const s_t* u) {
    const int64_t H = r.H, GH = r.A.size(2);
    r.W.forward(r.B, 0, GH, u, H, 1, r.a(t), GH);  // a = xp + u W_hh^T
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
    r.W.backward(r.B, 0, H, D, H, 0, g.p(g.du), H);  // du = dL/da W_hh
  }
};

}  // namespace seqlab
