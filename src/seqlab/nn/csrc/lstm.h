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

}  // namespace seqlab
