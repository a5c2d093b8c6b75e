"""Encoder-decoder models and search: learning to reverse sequences, beam 1 = greedy, batching."""
import pytest
import torch
import torch.nn.functional as F

from seqlab.models.seq2seq import Seq2SeqConfig, build_seq2seq
from seqlab.search import beam_search, greedy_search

PAD, BOS, EOS, FIRST = 0, 1, 2, 3  # symbols FIRST..FIRST+9


def reverse_batch(n, generator, max_len=7):
    lengths = torch.randint(3, max_len + 1, (n,), generator=generator)
    src = torch.zeros(n, max_len, dtype=torch.long)
    tgt = torch.zeros(n, max_len + 2, dtype=torch.long)
    for i, length in enumerate(lengths.tolist()):
        seq = torch.randint(FIRST, FIRST + 10, (length,), generator=generator)
        src[i, :length] = seq
        tgt[i, : length + 2] = torch.cat([torch.tensor([BOS]), seq.flip(0), torch.tensor([EOS])])
    return src, lengths, tgt


def train_reverser(cfg, steps, lr):
    torch.manual_seed(0)
    model = build_seq2seq(cfg, FIRST + 10, FIRST + 10)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        src, lengths, tgt = reverse_batch(64, g)
        logits = model(src, lengths, tgt[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return model.eval()


def token_accuracy(model, n=200):
    src, lengths, tgt = reverse_batch(n, torch.Generator().manual_seed(99))
    hyps = greedy_search(model, src, lengths, BOS, EOS, 12)
    right = total = 0
    for hyp, gold, length in zip(hyps, tgt, lengths.tolist()):
        gold = gold[1 : length + 1].tolist()
        right += sum(h == g for h, g in zip(hyp, gold))
        total += max(len(gold), len(hyp))
    return right / total


RNN = Seq2SeqConfig(arch="rnn", cell="gru", embed_size=32, hidden_size=64, dropout=0.0)
TRANSFORMER = Seq2SeqConfig(arch="transformer", d_model=64, num_heads=4, d_ff=128, enc_layers=2, dec_layers=2, dropout=0.0)


@pytest.mark.parametrize("cfg, steps, lr", [(RNN, 400, 3e-3), (TRANSFORMER, 500, 1e-3)], ids=["gru_attention", "transformer"])
def test_encoder_decoder_learns_to_reverse(cfg, steps, lr):
    model = train_reverser(cfg, steps, lr)
    assert token_accuracy(model) >= 0.99


@pytest.mark.parametrize("cfg", [RNN, TRANSFORMER, Seq2SeqConfig(arch="rnn", cell="lstm", attention="general",
                                                                 embed_size=16, hidden_size=24)], ids=["gru", "transformer", "lstm_general"])
def test_beam_one_equals_greedy_and_beam_is_batched(cfg):
    torch.manual_seed(0)
    model = build_seq2seq(cfg, FIRST + 10, FIRST + 10).eval()
    src, lengths, _ = reverse_batch(6, torch.Generator().manual_seed(1))
    greedy = greedy_search(model, src, lengths, BOS, EOS, 10)
    assert beam_search(model, src, lengths, BOS, EOS, 10, beam=1) == greedy
    batched = beam_search(model, src, lengths, BOS, EOS, 10, beam=3)
    alone = [beam_search(model, src[i : i + 1, : lengths[i]], lengths[i : i + 1], BOS, EOS, 10, beam=3)[0] for i in range(6)]
    assert batched == alone


def test_teacher_forcing_equals_step_by_step_decoding():
    torch.manual_seed(0)
    for cfg in (RNN, TRANSFORMER):
        model = build_seq2seq(cfg, FIRST + 10, FIRST + 10).eval()
        src, lengths, tgt = reverse_batch(4, torch.Generator().manual_seed(2))
        forced = model(src, lengths, tgt[:, :-1])
        memory = model.encode(src, lengths)
        state = model.init_state(memory)
        for t in range(tgt.shape[1] - 1):
            logits, state, attn = model.decode_step(tgt[:, t], state, memory)
            torch.testing.assert_close(logits, forced[:, t], atol=1e-5, rtol=0)
            assert torch.all(attn[1, lengths[1]:] == 0)  # padding gets no attention
