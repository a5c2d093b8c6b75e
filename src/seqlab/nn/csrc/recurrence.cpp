// The hand-BPTT driver loop in C++: the same recurrence as seqlab/nn/scan.py, with every cell's
// per-step elementwise work fused into one pass over the batch (CPU, float32 and float64).
//
// Each cell (elman.h, lstm.h, gru.h) is its forward step and its hand-derived backward step side by
// side, the same formulas as the Python cell of the same name (seqlab/nn/elman.py, lstm.py, gru.py);
// the generic driver here (forward_loop / backward_loop, run by `forward` / `backward`) runs every cell.
// A forward step is the recurrent product (gemm.h) and one pass over the batch rows doing all of the
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
// else A and K themselves.  Inference (`infer`) keeps only Hs: A is one chunk of steps' input projection,
// made just before those steps, Cs two steps and K one.
#include <torch/library.h>

#include "common.h"
#include "elman.h"
#include "gru.h"
#include "lstm.h"

namespace seqlab {

// The cell kinds; seqlab/nn/fused.py's KINDS and ELMAN_KINDS name them by the same numbers.
enum Kind : int64_t { RNN_TANH = 0, RNN_RELU, LSTM, LSTM_PEEPHOLE, LSTM_COUPLED, LSTM_NO_FORGET, GRU, GRU_BEFORE };

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
  r.S = r.SA = r.B;
  r.W = Recurrent<s_t>(w[0], r.T);
  if (kind == LSTM_PEEPHOLE) {
    r.v_i = w[2].data_ptr<s_t>();
    r.v_f = w[3].data_ptr<s_t>();
    r.v_o = w[4].data_ptr<s_t>();
  }
  if (kind == GRU) r.scratch = at::empty({r.B, w[0].size(0)}, Hs.options());
  return r;
}

// Carry the state of masked rows (m[t, b] false) and zero their output: s_t = m ? s'_t : s_{t-1}.
template <typename s_t>
void carry(Run<s_t>& r, int64_t t, const bool* m, s_t* out) {
  const int64_t H = r.H;
  rows(r.B, H, [&](int64_t b) {
    const bool keep = m[r.row(t) + b];
    s_t *h = r.h(t + 1) + b * H, *o = out + (r.row(t) + b) * H;
    if (!keep) {
      std::copy(r.h(t) + b * H, r.h(t) + (b + 1) * H, h);
      if (r.Cs.defined()) std::copy(r.c(t) + b * H, r.c(t) + (b + 1) * H, r.c(t + 1) + b * H);
    }
    for (int64_t j = 0; j < H; ++j) o[j] = keep ? h[j] : s_t(0);
  });
}

// before(r, t) runs ahead of step t (inference makes the input projection there, a chunk of steps at a time).
// mask (T, S) and u_mask (S, H) cover the whole batch; r steps its rows of it.
template <typename s_t, typename Cell, typename Before>
void forward_loop(Run<s_t>& r, const c10::optional<Tensor>& mask, const c10::optional<Tensor>& u_mask,
                  Tensor& out, const Before& before) {
  const int64_t n = r.B * r.H;
  Tensor u = u_mask ? at::empty({r.B, r.H}, r.Hs.options()) : Tensor();
  const bool* m = mask ? mask->data_ptr<bool>() : nullptr;
  const s_t* um = u_mask ? u_mask->data_ptr<s_t>() + r.b0 * r.H : nullptr;
  for (int64_t t = 0; t < r.T; ++t) {
    before(r, t);
    if (um) {
      s_t *x = u.data_ptr<s_t>(), *h = r.h(t);
      for (int64_t e = 0; e < n; ++e) x[e] = h[e] * um[e];
    }
    Cell::step(r, t, um ? u.data_ptr<s_t>() : r.h(t));
    if (m) carry(r, t, m, out.data_ptr<s_t>());
  }
}

// U holds every step's recurrent input u_t = h_{t-1} * u_mask, (T, S, H) contiguous; d_out (T, S, H), d_h (S, H).
template <typename s_t, typename Cell>
void backward_loop(Run<s_t>& r, Grad<s_t>& g, const Tensor& d_out, const c10::optional<Tensor>& mask,
                   const c10::optional<Tensor>& u_mask, const Tensor& U, Tensor& d_h) {
  const int64_t H = r.H;
  const bool* m = mask ? mask->data_ptr<bool>() : nullptr;
  const bool lstm = g.dc.defined();
  Tensor carry_h = at::zeros({r.B, H}, r.Hs.options()), carry_c = at::zeros_like(carry_h);
  s_t *dH = d_h.data_ptr<s_t>() + r.b0 * H, *dh = g.p(g.dh), *dc = lstm ? g.p(g.dc) : nullptr;
  s_t *ch = carry_h.data_ptr<s_t>(), *cc = carry_c.data_ptr<s_t>(), *direct = g.p(g.dh_direct);
  const s_t* um = u_mask ? u_mask->data_ptr<s_t>() + r.b0 * H : nullptr;
  for (int64_t t = r.T - 1; t >= 0; --t) {
    const s_t* dout = d_out.data_ptr<s_t>() + r.row(t) * H;
    rows(r.B, H, [&](int64_t b) {  // dL/dh_t: from the output and from step t+1; masked rows pass it on
      const bool keep = !m || m[r.row(t) + b];
      for (int64_t e = b * H; e < (b + 1) * H; ++e) {
        dh[e] = keep ? dH[e] + dout[e] : s_t(0);
        ch[e] = keep ? s_t(0) : dH[e];
        if (lstm) {
          cc[e] = keep ? s_t(0) : dc[e];
          dc[e] = keep ? dc[e] : s_t(0);
        }
      }
    });
    Cell::step_backward(r, g, t, U.data_ptr<s_t>() + r.row(t) * H);
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
    case LSTM: f(Lstm<s_t, Forget::gate>()); break;
    case LSTM_PEEPHOLE: f(LstmPeephole<s_t>()); break;
    case LSTM_COUPLED: f(Lstm<s_t, Forget::coupled>()); break;
    case LSTM_NO_FORGET: f(Lstm<s_t, Forget::none>()); break;
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

// The state buffers of T steps from state = (h_0[, c_0]): Hs (T+1, B, H) from h_0; for the LSTMs Cs (c_steps, B, H)
// from c_0, for every cell but the Elman one K (k_steps, B, H); out, Hs's steps 1..T or, with a mask, its own.
struct StateBuffers {
  Tensor Hs, Cs, K, out;
};
StateBuffers state_buffers(int64_t kind, const std::vector<Tensor>& state, int64_t T, int64_t c_steps, int64_t k_steps,
                           bool masked) {
  const int64_t B = state[0].size(0), H = state[0].size(1);
  const auto options = state[0].options();
  StateBuffers s{at::empty({T + 1, B, H}, options)};
  s.Hs[0].copy_(state[0]);
  if (is_lstm(kind)) {
    s.Cs = at::empty({c_steps, B, H}, options);
    s.Cs[0].copy_(state[1]);
  }
  if (kind != RNN_TANH && kind != RNN_RELU) s.K = at::empty({k_steps, B, H}, options);
  s.out = masked ? at::empty({T, B, H}, options) : s.Hs.narrow(0, 1, T);
  return s;
}

// forward(kind, xp, state, w, mask, u_mask) -> [out, Hs, Cs, K]; xp is taken over (becomes A).
std::vector<Tensor> forward(int64_t kind, Tensor xp, std::vector<Tensor> state, std::vector<Tensor> w,
                            c10::optional<Tensor> mask, c10::optional<Tensor> u_mask) {
  check(xp, state, w);
  TORCH_CHECK(xp.size(2) == gates(kind) * state[0].size(1), "xp's last size must be G*H");
  at::NoGradGuard no_grad;
  const int64_t T = xp.size(0);
  const StateBuffers s = state_buffers(kind, state, T, T + 1, T, mask.has_value());
  Tensor Hs = s.Hs, Cs = s.Cs, K = s.K, out = s.out;  // named, not bound: lambdas below capture them
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "seqlab_recurrence_forward", [&] {
    Run<scalar_t> r = make_run<scalar_t>(kind, xp, Hs, Cs, K, w);
    dispatch_cell<scalar_t>(kind, [&](auto cell) {
      each_share(r, [&](Run<scalar_t>& run) {
        forward_loop<scalar_t, decltype(cell)>(run, mask, u_mask, out, [](Run<scalar_t>&, int64_t) {});
      });
    });
  });
  return {out, Hs, Cs.defined() ? Cs : Tensor(), K.defined() ? K : Tensor()};
}

// The steps whose input projection inference makes at once: enough rows for an efficient product, few enough
// that the chunk (kChunkRows x G*H) stays in cache until its steps read it.
constexpr int64_t kChunkRows = 512;

// infer(kind, x, w_ih, bias, state, w, mask, u_mask) -> [out, h_T, (c_T)]: the forward alone, keeping nothing for
// a backward.  The input projection xp = x W_ih^T + bias is made a chunk of steps at a time just before those
// steps, into one small buffer (not a (T, B, G*H) one written to memory and read back); c and the cell's cache K
// roll over (two steps and one).  The same numbers as forward().
std::vector<Tensor> infer(int64_t kind, Tensor x, Tensor w_ih, Tensor bias, std::vector<Tensor> state,
                          std::vector<Tensor> w, c10::optional<Tensor> mask, c10::optional<Tensor> u_mask) {
  check(x, state, w);
  at::NoGradGuard no_grad;
  const int64_t T = x.size(0), B = x.size(1), H = state[0].size(1), GH = gates(kind) * H;
  TORCH_CHECK(w_ih.size(0) == GH && bias.numel() == GH, "w_ih and bias must have G*H rows");
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(T, kChunkRows / std::max<int64_t>(B, 1)));
  Tensor A = at::empty({chunk, B, GH}, x.options());
  const Tensor xf = x.view({T * B, -1}), wt = w_ih.t();
  const StateBuffers s = state_buffers(kind, state, T, 2, 1, mask.has_value());
  Tensor Hs = s.Hs, Cs = s.Cs, K = s.K, out = s.out;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "seqlab_recurrence_infer", [&] {
    Run<scalar_t> r = make_run<scalar_t>(kind, A, Hs, Cs, K, w);
    r.rolling = true;
    Recurrent<scalar_t> W_ih(w_ih, T);
    const int64_t I = x.size(2);
    const scalar_t *X = x.data_ptr<scalar_t>(), *b_ih = bias.data_ptr<scalar_t>();
    const auto project = [&](Run<scalar_t>& run, int64_t t) {
      if (t % chunk) return;
      const int64_t n = std::min(chunk, T - t);
      run.a0 = t;
      if (run.B == B) {  // the whole batch: one product for the chunk
        Tensor a = A.narrow(0, 0, n).view({n * B, GH});
        at::addmm_out(a, bias, xf.narrow(0, t * B, n * B), wt);
        return;
      }
      // a thread's rows: into its own chunk buffer, from its rows of x gathered
      Tensor xs = at::empty({n * run.B, I}, x.options());
      scalar_t *a = run.A.data_ptr<scalar_t>(), *g = xs.data_ptr<scalar_t>();
      for (int64_t s = 0; s < n; ++s)
        std::copy(X + run.row(t + s) * I, X + (run.row(t + s) + run.B) * I, g + s * run.B * I);
      for (int64_t i = 0; i < n * run.B; ++i) std::copy(b_ih, b_ih + GH, a + i * GH);
      W_ih.forward(n * run.B, 0, GH, g, I, 1, a, GH);
    };
    dispatch_cell<scalar_t>(kind, [&](auto cell) {
      each_share(r, [&](Run<scalar_t>& run) {
        if (run.B < B) {  // a thread's share: a chunk buffer of its own, (chunk, its rows, G*H)
          run.A = at::empty({chunk, run.B, GH}, A.options());
          run.SA = run.B;
          run.ab0 = 0;
        }
        forward_loop<scalar_t, decltype(cell)>(run, mask, u_mask, out, project);
      });
    });
  });
  std::vector<Tensor> result{out, Hs[T].clone()};
  if (Cs.defined()) result.push_back(Cs[T & 1].clone());
  return result;
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
    if (kind == GRU_BEFORE) g.scratch = at::empty({B, H}, Hs.options());
    if (is_lstm(kind)) g.dc = d_state[1].contiguous().clone();
    // every u_t at once, for the steps (GRU_BEFORE reads it) and for dW_hh: a view of Hs without the mask
    Tensor U = u_mask ? Hs.narrow(0, 0, T) * *u_mask : Hs.narrow(0, 0, T);
    dispatch_cell<scalar_t>(kind, [&](auto cell) {
      each_share(r, [&](Run<scalar_t>& run) {
        Grad<scalar_t> share = g.share(run.b0, run.B);
        backward_loop<scalar_t, decltype(cell)>(run, share, d_out, mask, u_mask, U, d_h);
      });
    });
    result = {r.D, d_h};
    if (is_lstm(kind)) result.push_back(g.dc);
    for (auto& d : param_grads<scalar_t>(kind, r, U.view({T * B, H}))) result.push_back(d);
  });
  return result;
}

// The floor of benchmarks/recurrent_speed.py: the products any implementation of the recurrence must do,
// alone, through the same calls as the loop above -- x W_ih^T; T products u_t W_hh^T forward; T
// products dL/da_t W_hh backward; dW_hh, dW_ih and dL/dx.  x (T*B, I), d (T*B, G*H), hs (T*B, H).
void products(int64_t steps, Tensor x, Tensor w_ih, Tensor w_hh, Tensor d, Tensor hs, Tensor xp, Tensor dx,
              Tensor dw_ih, Tensor dw_hh) {
  at::NoGradGuard no_grad;
  const int64_t B = x.size(0) / steps, GH = w_hh.size(0), H = w_hh.size(1);
  at::mm_out(xp, x, w_ih.t());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "seqlab_products", [&] {
    Tensor step = at::empty({B, GH}, x.options()), dh = at::empty({B, H}, x.options());
    const scalar_t *h = hs.data_ptr<scalar_t>(), *D = d.data_ptr<scalar_t>();
    Recurrent<scalar_t> W(w_hh, steps);
    by_rows(W.packed(), B, [&](int64_t b0, int64_t b1) {  // split over the threads as the loop splits
      for (int64_t t = 0; t < steps; ++t)
        W.forward(b1 - b0, 0, GH, h + (t * B + b0) * H, H, 0, step.data_ptr<scalar_t>() + b0 * GH, GH);
    });
    W = Recurrent<scalar_t>(w_hh, steps);  // packed anew, as the backward of the loop does
    by_rows(W.packed(), B, [&](int64_t b0, int64_t b1) {
      for (int64_t t = steps - 1; t >= 0; --t)
        W.backward(b1 - b0, 0, GH, D + (t * B + b0) * GH, GH, 0, dh.data_ptr<scalar_t>() + b0 * H, H);
    });
  });
  at::mm_out(dw_hh, d.t(), hs);
  at::mm_out(dw_ih, d.t(), x);
  at::mm_out(dx, d, w_ih);
}

// benchmarks/packed_gemm.py: `steps` products of a step of the loop with W_hh (G*H, H), through the same calls --
// forward X (B, H) W_hh^T, backward X (B, G*H) W_hh -- W_hh packed first (in the time, once, as the loop does), the
// whole batch at once (split over the threads by panels); returns the last product.
Tensor step_products(int64_t steps, Tensor X, Tensor w_hh, bool backward) {
  TORCH_CHECK(X.is_contiguous() && w_hh.is_contiguous() && X.scalar_type() == w_hh.scalar_type(), "bad operands");
  at::NoGradGuard no_grad;
  const int64_t B = X.size(0), GH = w_hh.size(0), H = w_hh.size(1);
  Tensor C = at::empty({B, backward ? H : GH}, X.options());
  AT_DISPATCH_FLOATING_TYPES(X.scalar_type(), "seqlab_step_products", [&] {
    Recurrent<scalar_t> W(w_hh, steps);
    const scalar_t* x = X.data_ptr<scalar_t>();
    scalar_t* c = C.data_ptr<scalar_t>();
    for (int64_t t = 0; t < steps; ++t) {
      if (backward) W.backward(B, 0, GH, x, GH, 0, c, H);
      else W.forward(B, 0, GH, x, H, 0, c, GH);
    }
  });
  return C;
}

// The instruction set this library was compiled for: "AVX512", "AVX2" or "DEFAULT".
std::string isa() { return kIsa; }

TORCH_LIBRARY(seqlab, m) {
  m.def("isa() -> str", &isa);
  m.def("products(int steps, Tensor x, Tensor w_ih, Tensor w_hh, Tensor d, Tensor hs, Tensor(a!) xp, Tensor(b!) dx, "
        "Tensor(c!) dw_ih, Tensor(d!) dw_hh) -> ()",
        &products);
  m.def("step_products(int steps, Tensor X, Tensor w_hh, bool backward) -> Tensor", &step_products);
  m.def("recurrence_forward(int kind, Tensor xp, Tensor[] state, Tensor[] w, Tensor? mask, Tensor? u_mask) -> Tensor[]",
        &forward);
  m.def("recurrence_infer(int kind, Tensor x, Tensor w_ih, Tensor bias, Tensor[] state, Tensor[] w, Tensor? mask, "
        "Tensor? u_mask) -> Tensor[]",
        &infer);
  m.def("recurrence_backward(int kind, Tensor? A, Tensor Hs, Tensor? Cs, Tensor? K, Tensor[] w, Tensor d_out, "
        "Tensor[] d_state, Tensor? mask, Tensor? u_mask, bool in_place) -> Tensor[]",
        &backward);
}

}  // namespace seqlab
