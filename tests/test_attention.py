"""Attention forms against plain loops from their formulas; masks; multi-head against torch; causality."""
import math

import pytest
import torch

import seqlab.nn.attention as A
from seqlab.nn.positional import LearnedPositionalEncoding, SinusoidalPositionalEncoding
from seqlab.nn.transformer import (
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

B, TQ, TK, D = 2, 3, 5, 4
DT = torch.float64


def reference(score, q, k, v, mask=None):
    """z_i = sum_j softmax_j(score(q_i, k_j)) v_j, one (b, i, j) at a time."""
    out, weights = torch.zeros(B, TQ, v.shape[-1], dtype=DT), torch.zeros(B, TQ, TK, dtype=DT)
    for b in range(B):
        for i in range(TQ):
            allowed = [j for j in range(TK) if mask is None or mask[b, 0, j]]
            e = torch.stack([score(q[b, i], k[b, j]) for j in allowed])
            a = torch.exp(e - e.max()) / torch.exp(e - e.max()).sum()
            for a_j, j in zip(a, allowed):
                weights[b, i, j] = a_j
                out[b, i] += a_j * v[b, j]
    return out, weights


def forms():
    torch.manual_seed(0)
    add = A.AdditiveAttention(D, D, 6).double()
    gen = A.GeneralAttention(D, D).double()
    return {
        "additive": (add, lambda q, k: add.v.weight[0] @ torch.tanh(add.w_q.weight @ q + add.w_k.weight @ k + add.w_k.bias)),
        "dot": (A.DotAttention(), lambda q, k: q @ k),
        "general": (gen, lambda q, k: q @ (gen.w.weight @ k)),
        "scaled_dot": (A.ScaledDotProductAttention(), lambda q, k: q @ k / math.sqrt(D)),
    }


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("name", ["additive", "dot", "general", "scaled_dot"])
def test_attention_form_equals_its_formula(name, masked):
    module, score = forms()[name]
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(B, t, D, generator=g, dtype=DT) for t in (TQ, TK, TK))
    mask = A.padding_mask(torch.tensor([5, 2]), TK) if masked else None
    out, weights = module(q, k, v, mask, need_weights=True)
    ref_out, ref_weights = reference(score, q, k, v, mask)
    torch.testing.assert_close(out, ref_out, atol=1e-12, rtol=0)
    torch.testing.assert_close(weights, ref_weights, atol=1e-12, rtol=0)
    if masked:
        assert torch.all(weights[1, :, 2:] == 0)  # exactly zero, not small
    fast, none = module(q, k, v, mask)
    assert none is None
    torch.testing.assert_close(fast, out, atol=1e-12, rtol=0)


def test_fully_masked_query_gets_zero_output_and_finite_gradients():
    q, k, v = (torch.randn(1, t, D, dtype=DT, requires_grad=True) for t in (2, 3, 3))
    mask = torch.tensor([[[True, True, False], [False, False, False]]])
    for module in (A.ScaledDotProductAttention(), A.MultiHeadAttention(D, 2).double()):
        out, weights = module(q, k, v, mask, need_weights=True)
        assert torch.all(weights[0, 1] == 0) and torch.all(weights[0, 0, 2] == 0)
        out.sum().backward()
        assert all(torch.isfinite(t.grad).all() for t in (q, k, v))


@pytest.mark.parametrize("need_weights", [False, True])
def test_multi_head_equals_torch_with_copied_weights(need_weights):
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(8, 2, batch_first=True).double()
    ours = A.MultiHeadAttention(8, 2).double()
    ours.load_state_dict(ref.state_dict())
    q, k = torch.randn(B, TQ, 8, dtype=DT), torch.randn(B, TK, 8, dtype=DT)
    lengths = torch.tensor([5, 3])
    out, w = ours(q, k, k, A.padding_mask(lengths, TK), need_weights=need_weights)
    ref_out, ref_w = ref(q, k, k, key_padding_mask=~A.padding_mask(lengths, TK)[:, 0], need_weights=need_weights)
    torch.testing.assert_close(out, ref_out, atol=1e-12, rtol=0)
    if need_weights:
        torch.testing.assert_close(w, ref_w, atol=1e-12, rtol=0)


def test_multi_head_causal_equals_torch():
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(8, 4, batch_first=True).double()
    ours = A.MultiHeadAttention(8, 4).double()
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(B, 6, 8, dtype=DT)
    out, _ = ours(x, x, x, A.causal_mask(6))
    ref_out, _ = ref(x, x, x, attn_mask=~A.causal_mask(6))
    torch.testing.assert_close(out, ref_out, atol=1e-12, rtol=0)


def test_causal_decoder_output_at_t_ignores_inputs_after_t():
    torch.manual_seed(0)
    decoder = TransformerDecoder(TransformerDecoderLayer(8, 2, 16, dropout=0.0), 2).double().eval()
    x, memory = torch.randn(1, 7, 8, dtype=DT), torch.randn(1, 4, 8, dtype=DT)
    out, _ = decoder(x, memory, A.causal_mask(7))
    for t in range(6):
        changed = x.clone()
        changed[:, t + 1 :] += torch.randn_like(changed[:, t + 1 :])
        again, _ = decoder(changed, memory, A.causal_mask(7))
        torch.testing.assert_close(again[:, : t + 1], out[:, : t + 1], atol=1e-12, rtol=0)
        assert not torch.allclose(again[:, t + 1 :], out[:, t + 1 :])


def test_encoder_ignores_padding_keys():
    torch.manual_seed(0)
    encoder = TransformerEncoder(TransformerEncoderLayer(8, 2, 16, dropout=0.0), 2).double().eval()
    x = torch.randn(1, 5, 8, dtype=DT)
    mask = A.padding_mask(torch.tensor([3]), 5)
    out = encoder(x, mask)
    changed = x.clone()
    changed[:, 3:] = 100.0
    torch.testing.assert_close(encoder(changed, mask)[:, :3], out[:, :3], atol=1e-12, rtol=0)
    torch.testing.assert_close(out[:, :3], encoder(x[:, :3]), atol=1e-12, rtol=0)


def test_decoder_returns_cross_attention_map_rows_summing_to_one():
    decoder = TransformerDecoder(TransformerDecoderLayer(8, 2, 16), 2).eval()
    _, weights = decoder(torch.randn(2, 3, 8), torch.randn(2, 5, 8), need_weights=True)
    assert weights.shape == (2, 3, 5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3))


def test_positional_encodings():
    pe = SinusoidalPositionalEncoding(6, max_len=50)
    out = pe(torch.zeros(1, 10, 6))
    pos, i = 7, 1
    assert math.isclose(out[0, pos, 2 * i], math.sin(pos / 10000 ** (2 * i / 6)), abs_tol=1e-6)
    assert math.isclose(out[0, pos, 2 * i + 1], math.cos(pos / 10000 ** (2 * i / 6)), abs_tol=1e-6)
    assert LearnedPositionalEncoding(6, max_len=10)(torch.zeros(2, 10, 6)).shape == (2, 10, 6)
    with pytest.raises(ValueError, match="sequence length 51 exceeds the positional encoding's max_len=50"):
        pe(torch.zeros(1, 51, 6))
