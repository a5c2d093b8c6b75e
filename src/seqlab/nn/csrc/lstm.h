// The LSTM cells of seqlab/nn/lstm.py in C++: standard, peephole, coupled, no forget gate.
// Each cell: its forward step and its hand-derived backward step side by side (see common.h for Run, Grad).
#pragma once

#include "common.h"

namespace seqlab {

// ---------------------------------------------------------------------- LSTM and variants
// h_t = o * tanh(c_t) for all four; the gate blocks and the c update differ.
template <typename s_t>
inline void emit(int64_t H, const s_t* o, const s_t* c, s_t* k, s_t* h) {  // k = tanh(c_t), h_t = o * k
  tanh(c, k, H);
  for (int64_t j = 0; j < H; ++j) h[j] = o[j] * k[j];
}

// The three LSTMs that differ only in their forget gate: c = f c_prev + i g with
//   Forget::gate     f = sigma(a_f), gates (i, f, g, o)  -- the standard LSTM;
//   Forget::coupled  f = 1 - i,      gates (i, g, o):  c = c_prev + i (g - c_prev),  dL/di = dL/dc (g - c_prev);
//   Forget::none     f = 1,          gates (i, g, o):  c = c_prev + i g  (the 1997 LSTM; dL/dc_prev = dL/dc).
enum class Forget { gate, coupled, none };

template <typename s_t, Forget F>
struct Lstm {
  static constexpr int G = F == Forget::gate ? 4 : 3;
  static void step(Run<s_t>& r, int64_t t, const s_t* u) {
    const int64_t H = r.H;
    r.W.forward(r.B, 0, G * H, u, H, 1, r.a(t), G * H);  // a = xp + u W_hh^T
    s_t *A = r.a(t), *cp = r.c(t), *c = r.c(t + 1), *K = r.k(t), *h = r.h(t + 1);
    rows(r.B, 4 * G * H, [&](int64_t b) {
      s_t *i = A + b * G * H, *f = i + H, *gg = i + (G - 2) * H, *o = i + (G - 1) * H;
      const int64_t e = b * H;
      sigmoid(i, i, (G - 2) * H);  // i, and f where it is a gate
      tanh(gg, gg, H);
      sigmoid(o, o, H);
      for (int64_t j = 0; j < H; ++j) {
        const s_t p = cp[e + j];
        if constexpr (F == Forget::gate) c[e + j] = f[j] * p + i[j] * gg[j];
        else if constexpr (F == Forget::coupled) c[e + j] = p + i[j] * (gg[j] - p);
        else c[e + j] = p + i[j] * gg[j];
      }
      emit(H, o, c + e, K + e, h + e);
    });
  }
  static void step_backward(Run<s_t>& r, Grad<s_t>& g, int64_t t, const s_t*) {
    const int64_t H = r.H;
    s_t *A = r.a(t), *D = r.d(t), *K = r.k(t), *cp = r.c(t), *dh = g.p(g.dh), *dc = g.p(g.dc);
    rows(r.B, 2 * G * H, [&](int64_t b) {
      const s_t* a = A + b * G * H;
      s_t* d = D + b * G * H;  // may be a itself: every value is read before its place is written
      for (int64_t j = 0; j < H; ++j) {
        const int64_t e = b * H + j;
        const s_t i = a[j], gg = a[(G - 2) * H + j], o = a[(G - 1) * H + j], tc = K[e];
        const s_t d_c = dc[e] + dh[e] * o * dtanh(tc);  // dL/dc_t, through h = o tanh(c) too
        if constexpr (F == Forget::gate) {
          const s_t f = a[H + j];
          d[j] = d_c * gg * dsig(i);
          d[H + j] = d_c * cp[e] * dsig(f);
          dc[e] = d_c * f;
        } else if constexpr (F == Forget::coupled) {
          d[j] = d_c * (gg - cp[e]) * dsig(i);
          dc[e] = d_c - d_c * i;
        } else {
          d[j] = d_c * gg * dsig(i);
          dc[e] = d_c;
        }
        d[(G - 2) * H + j] = d_c * i * dtanh(gg);
        d[(G - 1) * H + j] = dh[e] * tc * dsig(o);
      }
    });
    r.W.backward(r.B, 0, G * H, D, G * H, 0, g.p(g.du), H);  // du = dL/da W_hh
  }
};

// Peephole (i, f, g, o):  i, f see c_{t-1}, o sees c_t through diagonal weights V_i, V_f, V_o.
template <typename s_t>
struct LstmPeephole {
  static constexpr int G = 4;
  static void step(Run<s_t>& r, int64_t t, const s_t* u) {
    const int64_t H = r.H, GH = r.A.size(2);
    r.W.forward(r.B, 0, GH, u, H, 1, r.a(t), GH);  // a = xp + u W_hh^T
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
    r.W.backward(r.B, 0, 4 * H, D, 4 * H, 0, g.p(g.du), H);  // du = dL/da W_hh
  }
};

}  // namespace seqlab
