"""Plots written as PNG files (matplotlib, no display needed)."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from seqlab.errors import UserError
from seqlab.train.rundir import task_of


def save(fig, out: Path, dpi: int = 110) -> Path:
    """Write ``fig`` to ``out`` (its folder made if needed) as a PNG, and close it."""
    fig.tight_layout()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=dpi)
    except (OSError, ValueError) as e:  # an unwritable place, a suffix matplotlib has no format for
        raise UserError(f"cannot write the plot {out}: {e}") from None
    finally:
        plt.close(fig)
    return out if out.suffix else out.with_suffix(".png")  # matplotlib adds .png to a name without a suffix


def read_metrics(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise UserError(f"{run_dir} has no metrics.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_losses(run_dir: str | Path, out: Path | None = None) -> Path:
    """Training and validation loss against step: ``<run_dir>/loss.png``."""
    records = read_metrics(run_dir)
    fig, ax = plt.subplots(figsize=(7, 4))
    for split, style in (("train", "-"), ("valid", "o-")):
        rows = [r for r in records if r.get("split") == split]
        if rows:
            ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], style, label=split, markersize=3)
    forecast = (Path(run_dir) / "config.json").is_file() and task_of(run_dir) == "forecast"
    ylabel = "train: model.loss, valid: MSE (standardised)" if forecast else "cross-entropy (nats / token)"
    ax.set(xlabel="step", ylabel=ylabel, title=f"{Path(run_dir).name}: loss")
    ax.grid(alpha=0.3)
    ax.legend()
    out = Path(out or Path(run_dir) / "loss.png")
    return save(fig, Path(out), dpi=120)


def plot_gradient_flow(norms: dict[str, list[float]], out: Path, title: str) -> Path:
    """||dL_T/dh_k|| against k, log scale: the notes' vanishing-gradient picture."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, values in norms.items():
        ax.semilogy(range(1, len(values) + 1), values, label=name)
    ax.set(xlabel="time step k", ylabel="||dL_T / dh_k||", title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return save(fig, Path(out), dpi=120)


def plot_attention(weights, src_tokens: list[str], out_tokens: list[str], out: Path, title: str) -> Path:
    """A heatmap of the attention map: one row per output token, one column per source token."""
    fig, ax = plt.subplots(figsize=(max(4, 0.45 * len(src_tokens) + 2), max(3, 0.4 * len(out_tokens) + 1.5)))
    ax.imshow(weights.numpy() if hasattr(weights, "numpy") else weights, cmap="viridis", vmin=0, aspect="auto")
    ax.set_xticks(range(len(src_tokens)), src_tokens, rotation=60, ha="right")
    ax.set_yticks(range(len(out_tokens)), out_tokens)
    ax.set(xlabel="source", ylabel="output", title=title)
    return save(fig, Path(out), dpi=120)


def plot_confusion(matrix: list[list[int]], labels: list[str], out: Path, title: str) -> Path:
    """Confusion matrix (rows: gold, columns: predicted) with counts in the cells."""
    import numpy as np

    m = np.asarray(matrix)
    size = max(4.0, 0.6 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(m, cmap="Blues")
    ax.set(xticks=range(len(labels)), yticks=range(len(labels)), xticklabels=labels, yticklabels=labels,
           xlabel="predicted", ylabel="gold", title=title)
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, str(m[i, j]), ha="center", va="center", color="white" if m[i, j] > m.max() / 2 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    return save(fig, Path(out), dpi=120)


def plot_forecast(f: dict, out: Path, title: str, max_columns: int = 7) -> Path:
    """History, forecast and (where known) truth of each forecast column; the horizon shaded."""
    columns = f["columns"][:max_columns]
    fig, axes = plt.subplots(len(columns), 1, figsize=(9, 1.9 * len(columns) + 0.6), sharex=True, squeeze=False)
    for k, (ax, name) in enumerate(zip(axes[:, 0], columns)):
        ax.plot(f["history_times"], f["history"][:, k], color="0.3", lw=1, label="history")
        if len(f["truth"]):
            ax.plot(f["times"][: len(f["truth"])], f["truth"][:, k], color="tab:green", lw=1, label="truth")
        ax.plot(f["times"], f["forecast"][:, k], color="tab:red", lw=1.2, label="forecast")
        ax.axvspan(f["times"][0], f["times"][-1], color="tab:red", alpha=0.07)
        ax.set_ylabel(name)
    axes[0, 0].legend(loc="upper left", fontsize=8, ncol=3)
    axes[0, 0].set_title(title)
    fig.autofmt_xdate()
    return save(fig, Path(out), dpi=110)


def plot_speech(log_mel, posteriors, labels: list[str], out: Path, title: str, segments=None) -> Path:
    """The log-mel spectrogram; beneath it, when given, the per-step posteriors (one line per label: CTC's, or
    a frame tagger's) and the ``segments`` (label index, start, end) as labelled spans."""
    rows = 2 if posteriors is not None else 1
    fig, axes = plt.subplots(rows, 1, figsize=(9, 2.6 * rows), squeeze=False)
    ax = axes[0, 0]
    ax.imshow(log_mel.T.numpy(), origin="lower", aspect="auto", cmap="magma")
    ax.set(ylabel="mel band", title=title, xlabel="frame (10 ms)")
    if posteriors is not None:
        ax = axes[1, 0]
        steps = posteriors.shape[0]
        for k, label in enumerate(labels):
            style = {"color": "0.7", "lw": 0.8} if k == 0 else {"lw": 1.2}
            ax.plot(range(steps), posteriors[:, k].numpy(), label=label, **style)
        ax.set(xlim=(0, steps - 1), ylim=(0, 1.02), ylabel="p(label)", xlabel="model step")
        ax.legend(loc="upper right", ncol=11, fontsize=7)
        for k, start, end in segments or []:
            ax.axvspan(start, end, color="C0", alpha=0.12)
            ax.text((start + end) / 2, 0.5, labels[k], ha="center", fontsize=11, weight="bold")
    return save(fig, Path(out), dpi=110)


def plot_strip(image, rows, labels: list[str], out: Path, title: str) -> Path:
    """A handwriting strip; beneath it one row per label over the model's columns (an attention decoder's
    weights per emitted digit, or CTC's per-column posteriors), stretched to the image's width."""
    height, width = image.shape
    fig, axes = plt.subplots(2, 1, figsize=(max(5, width / 14), 1.2 + 0.28 * (height / 6 + len(labels))),
                             gridspec_kw={"height_ratios": [height / 6, len(labels)]}, squeeze=False)
    axes[0, 0].imshow(image.numpy(), cmap="gray", aspect="auto", extent=(0, width, height, 0))
    axes[0, 0].set(title=title, yticks=[])
    ax = axes[1, 0]
    ax.imshow(rows.numpy(), cmap="viridis", vmin=0, vmax=1, aspect="auto", extent=(0, width, len(labels), 0),
              interpolation="nearest")
    ax.set_yticks([k + 0.5 for k in range(len(labels))], labels, fontsize=7)
    ax.set(xlabel="image column (pixels)")
    return save(fig, Path(out), dpi=110)


LOGO_COLOURS = {"A": "#2ca02c", "C": "#1f77b4", "G": "#ff9f0e", "T": "#d62728", "U": "#d62728"}


def _glyph(ax, letter: str, x: float, bottom: float, height: float, colour: str) -> None:
    """``letter`` stretched into the box [x - 0.45, x + 0.45] x [bottom, bottom + height]."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.patches import PathPatch
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D

    path = TextPath((0, 0), letter, size=1, prop=FontProperties(family="DejaVu Sans", weight="bold"))
    box = path.get_extents()
    fit = Affine2D().translate(-box.x0, -box.y0).scale(0.9 / box.width, height / box.height) \
        .translate(x - 0.45, bottom)
    ax.add_patch(PathPatch(fit.transform_path(path), facecolor=colour, edgecolor="none"))


def plot_logo(maps: dict[str, list[list[float]]], letters: list[str], positions: list[str], out: Path,
              title: str) -> Path:
    """Sequence-logo-style attribution maps, one panel per class: at each position the letters stacked with
    their mean attribution as height, positive above the axis (tallest on top), negative below."""
    import numpy as np

    fig, axes = plt.subplots(len(maps), 1, figsize=(max(8.0, 0.22 * len(positions) + 2), 2.3 * len(maps)),
                             squeeze=False)
    for ax, (name, matrix) in zip(axes[:, 0], maps.items()):
        m = np.asarray(matrix, dtype=float)  # (letters, T)
        for t in range(m.shape[1]):
            up, down = 0.0, 0.0
            for k in np.argsort(np.abs(m[:, t])):  # the largest drawn last: outermost
                h = m[k, t]
                if h > 0:
                    _glyph(ax, letters[k], t, up, h, LOGO_COLOURS.get(letters[k], "#7f7f7f"))
                    up += h
                elif h < 0:
                    down += h
                    _glyph(ax, letters[k], t, down, -h, LOGO_COLOURS.get(letters[k], "#7f7f7f"))
        top = max(float(np.clip(m, 0, None).sum(0).max()), 1e-6)
        low = min(float(np.clip(m, None, 0).sum(0).min()), -1e-6)
        ax.set_xlim(-0.6, m.shape[1] - 0.4)
        ax.set_ylim(low * 1.05, top * 1.05)
        ax.axhline(0, color="black", lw=0.5)
        step = max(1, len(positions) // 30)
        ax.set_xticks(range(0, len(positions), step), positions[::step], fontsize=7)
        ax.set_ylabel("attribution")
        ax.set_title(name, fontsize=10, loc="left")
    axes[-1, 0].set_xlabel("position")
    fig.suptitle(title, fontsize=11)
    return save(fig, Path(out), dpi=120)
