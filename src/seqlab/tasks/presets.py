"""Named starting configurations for ``seqlab train lm|translate --preset NAME``: plain functions.

Language models:

* ``char-lstm-small``  -- the demo: a character LSTM that learns in about two CPU minutes
* ``shakespeare-char`` -- the best character model we reach within 30 minutes on a 2-core CPU
* ``shakespeare-transformer`` -- a decoder-only Transformer with the same data and budget
* ``ptb-small``        -- Zaremba et al. 2014, small: 2x200 LSTM, no dropout, SGD lr 1,
  halved every epoch after the 4th, 13 epochs, batch 20, 20 steps, clip 5, U(-0.1, 0.1)
* ``ptb-medium``       -- Zaremba et al. 2014, medium: 2x650, dropout 0.5, 39 epochs,
  lr 1 divided by 1.2 every epoch after the 6th, 35 steps, U(-0.05, 0.05)

Zaremba et al. sum the loss over the T steps of a window (and average over the batch);
seqlab's loss is the mean over all tokens, T times smaller.  Plain SGD with clipping is
exactly equivalent when lr is multiplied by T and the clip threshold divided by T:
lr_sum * clip(g_sum, 5) = (T * lr_sum) * clip(g_mean, 5 / T).  Hence lr 20 and clip
0.25 for the small model (the values of PyTorch's word_language_model example).

Translation (Multi30k De->En, tutorial scale):

* ``multi30k-gru-attention`` -- bidirectional GRU encoder, GRU decoder with additive attention
* ``multi30k-transformer``   -- 3 + 3 layers, d_model 256, 8 heads, FFN 512
"""
from __future__ import annotations

from importlib import resources

from seqlab.errors import UserError
from seqlab.tasks.lm import LMConfig
from seqlab.tasks.translate import TranslateConfig


def bundled_corpus() -> str:
    """Path of the tiny-shakespeare text shipped inside the package."""
    return str(resources.files("seqlab") / "corpora" / "tinyshakespeare.txt.gz")


def char_lstm_small() -> LMConfig:
    cfg = LMConfig()
    cfg.data.path, cfg.data.level = bundled_corpus(), "char"
    cfg.model.embed_size, cfg.model.hidden_size, cfg.model.num_layers = 64, 256, 2
    cfg.optim.lr, cfg.optim.schedule, cfg.optim.warmup_steps, cfg.optim.min_lr = 3e-3, "cosine", 50, 3e-4
    cfg.train.batch_size, cfg.train.bptt, cfg.train.max_steps = 32, 64, 1200
    cfg.train.max_minutes, cfg.train.eval_every, cfg.train.eval_batch_size = 2.0, 200, 16
    return cfg


def shakespeare_char() -> LMConfig:
    cfg = LMConfig()
    cfg.data.level = "char"
    cfg.model.embed_size, cfg.model.hidden_size, cfg.model.num_layers = 128, 512, 2
    cfg.model.dropout = 0.2
    cfg.optim.lr, cfg.optim.schedule, cfg.optim.warmup_steps, cfg.optim.min_lr = 2e-3, "cosine", 100, 1e-4
    cfg.train.batch_size, cfg.train.bptt, cfg.train.max_steps = 32, 128, 2500  # ~30 min at ~6k chars/s
    cfg.train.max_minutes, cfg.train.eval_every, cfg.train.eval_batch_size = 30.0, 250, 32
    return cfg


def ptb_small() -> LMConfig:
    cfg = LMConfig()
    cfg.data.level = "word"
    cfg.model.embed_size, cfg.model.hidden_size, cfg.model.num_layers, cfg.model.init_range = 200, 200, 2, 0.1
    cfg.optim.name, cfg.optim.lr, cfg.optim.clip = "sgd", 1.0 * 20, 5.0 / 20  # T = 20: see the module docstring
    cfg.optim.schedule, cfg.optim.decay, cfg.optim.decay_start = "step", 0.5, 4
    cfg.train.batch_size, cfg.train.bptt, cfg.train.epochs, cfg.train.eval_batch_size = 20, 20, 13, 20
    return cfg


def ptb_medium() -> LMConfig:
    cfg = ptb_small()
    cfg.model.embed_size, cfg.model.hidden_size, cfg.model.dropout, cfg.model.init_range = 650, 650, 0.5, 0.05
    cfg.optim.decay, cfg.optim.decay_start = 1 / 1.2, 6
    cfg.optim.lr, cfg.optim.clip = 1.0 * 35, 5.0 / 35  # T = 35
    cfg.train.bptt, cfg.train.epochs = 35, 39
    return cfg


def shakespeare_transformer() -> LMConfig:
    """A decoder-only Transformer with the shakespeare-char data and time budget, for comparison."""
    cfg = shakespeare_char()
    cfg.model.cell, cfg.model.hidden_size, cfg.model.num_layers, cfg.model.num_heads = "transformer", 256, 4, 4
    cfg.model.dropout, cfg.optim.lr, cfg.optim.warmup_steps = 0.1, 1e-3, 100
    cfg.train.batch_size, cfg.train.bptt, cfg.train.max_steps = 32, 128, 1400  # ~30 min at ~3.5k chars/s
    return cfg


def multi30k(arch: str) -> TranslateConfig:
    """Multi30k De->En at tutorial scale (bentrevett/pytorch-seq2seq #3 and legacy #6 as the reference)."""
    cfg = TranslateConfig()
    cfg.data.src, cfg.data.tgt, cfg.data.vocab_size, cfg.data.max_tokens = "de", "en", 8000, 2048
    cfg.model.arch = arch
    if arch == "rnn":  # bidirectional GRU encoder, GRU decoder with additive attention
        cfg.model.embed_size, cfg.model.hidden_size, cfg.model.dropout = 256, 256, 0.3
        cfg.optim.lr, cfg.optim.clip = 1e-3, 1.0
    else:  # 3 + 3 layers, d 256, 8 heads, FFN 512
        cfg.model.d_model, cfg.model.num_heads, cfg.model.d_ff, cfg.model.dropout = 256, 8, 512, 0.1
        cfg.model.enc_layers = cfg.model.dec_layers = 3
        cfg.optim.lr, cfg.optim.warmup_steps, cfg.optim.clip = 5e-4, 400, 1.0
    cfg.optim.schedule, cfg.train.max_minutes = "cosine", 60.0
    # as many epochs as fit the hour on a 2-core CPU (~1.4 s a step for the GRU, ~1 s for the Transformer)
    cfg.train.epochs = 10 if arch == "rnn" else 13
    return cfg


PRESETS = {
    "char-lstm-small": char_lstm_small,
    "shakespeare-char": shakespeare_char,
    "shakespeare-transformer": shakespeare_transformer,
    "ptb-small": ptb_small,
    "ptb-medium": ptb_medium,
}
TRANSLATE_PRESETS = {
    "multi30k-gru-attention": lambda: multi30k("rnn"),
    "multi30k-transformer": lambda: multi30k("transformer"),
}


def preset(name: str, task: str = "lm"):
    table = PRESETS if task == "lm" else TRANSLATE_PRESETS
    if name not in table:
        raise UserError(f"unknown preset {name!r} for {task}; presets: {', '.join(table)}")
    return table[name]()
