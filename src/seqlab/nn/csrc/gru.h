// The GRU cells of seqlab/nn/gru.py in C++: reset gate after and before the product.
// Each cell: its forward step and its hand-derived backward step side by side (see common.h for Run, Grad).
#pragma once

#include "common.h"

namespace seqlab {

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
    r.W.forward(r.B, 0, 3 * H, u, H, 0, P, 3 * H);  // (B, 3H): u W_hh^T, then + b_hh below
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
    r.W.backward(r.B, 0, 2 * H, D, 3 * H, 0, g.p(g.du), H);  // du = dL/da_{r,z} W_hrz + dL/dh_n W_hn
    r.W.backward(r.B, 2 * H, H, Dn, H, 1, g.p(g.du), H);
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
    r.W.forward(r.B, 0, 2 * H, u, H, 1, A, 3 * H);  // a_rz += u W_hrz^T (+ b_hrz below)
    rows(r.B, 8 * H, [&](int64_t b) {
      s_t* x = A + b * 3 * H;
      for (int64_t j = 0; j < 2 * H; ++j) x[j] += bias[j];
      sigmoid(x, x, 2 * H);
      for (int64_t j = 0; j < H; ++j) K[b * H + j] = x[j] * U[b * H + j];
    });
    r.W.forward(r.B, 2 * H, H, K, H, 1, A + 2 * H, 3 * H);  // a_n += (r * u) W_hn^T (+ b_hn)
    rows(r.B, 4 * H, [&](int64_t b) {
      s_t* x = A + b * 3 * H;
      for (int64_t j = 0; j < H; ++j) x[2 * H + j] += bias[2 * H + j];
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
    // dL/d(r * u) = dL/da_n W_hn (into scratch); its part through r goes straight into du, and the product
    // dL/da_{r,z} W_hrz is added onto it
    r.W.backward(r.B, 2 * H, H, Dd + 2 * H, 3 * H, 0, g.p(g.scratch), H);
    const s_t* D = g.p(g.scratch);
    s_t* du = g.p(g.du);
    rows(r.B, 2 * H, [&](int64_t b) {
      const s_t* a = A + b * 3 * H;
      for (int64_t j = 0; j < H; ++j) {
        const int64_t e = b * H + j;
        const s_t rr = a[j];
        Dd[b * 3 * H + j] = D[e] * U[e] * dsig(rr);
        du[e] = D[e] * rr;
      }
    });
    r.W.backward(r.B, 0, 2 * H, Dd, 3 * H, 1, du, H);  // du = d_ru * r + dL/da_{r,z} W_hrz
  }
};

}  // namespace seqlab
