"""The ``seqlab`` command line.

    seqlab demo                                   train a small character LSTM, sample, plot
    seqlab train lm --data PATH [--preset NAME] [--config FILE] [--model.hidden_size=512 ...]
    seqlab train lm --resume RUN_DIR [--train.max_steps=...]
    seqlab train translate --data DIR [--preset NAME] [--data.src=de --data.tgt=en ...]
    seqlab generate RUN_DIR --prime TEXT --length N [--temperature T --top-k K --top-p P --seed S]
    seqlab translate RUN_DIR [--input FILE] [--beam K]          (stdin -> stdout by default)
    seqlab evaluate RUN_DIR --data FILE                          (language model)
    seqlab evaluate RUN_DIR --src FILE --ref FILE [--beam K]     (translation: BLEU, chrF)
    seqlab plot losses RUN_DIR
    seqlab plot gradients [--data FILE] [--steps T] [--out PNG]
    seqlab plot attention RUN_DIR --src TEXT [--out PNG]

Mistakes (a missing file, an unknown key, a bad value) end with one line on stderr
naming what is wrong, and exit status 2; a NaN loss exits 1; Ctrl-C saves a
checkpoint and exits 130.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from seqlab.errors import TrainingDiverged, UserError


def _add_sampling(p: argparse.ArgumentParser) -> None:
    p.add_argument("--temperature", type=float, default=0.8, help="0 = greedy (default 0.8)")
    p.add_argument("--top-k", type=int, default=0, help="sample from the k most likely tokens (0 = off)")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (1 = off)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")


def _add_train(sub) -> None:
    train = sub.add_parser("train", help="train a model").add_subparsers(dest="task", required=True)
    for task, what, data_help in (
        ("lm", "a language model", "a text file (90/10 split) or a directory with train/valid[/test] files"),
        ("translate", "an encoder-decoder", "a directory with train.SRC/train.TGT and val.SRC/val.TGT"),
    ):
        p = train.add_parser(task, help=what, epilog="Any config field: --section.key=value.")
        p.add_argument("--data", help=data_help)
        p.add_argument("--preset", help="a named starting configuration")
        p.add_argument("--config", help="a JSON file with config fields")
        p.add_argument("--name", help="run name (default: the preset's); the run lives in RUNS/NAME")
        p.add_argument("--runs", default="runs", help="directory of run directories (default runs/)")
        p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted or finished run")


def _add_plot(sub) -> None:
    plot = sub.add_parser("plot", help="plots").add_subparsers(dest="what", required=True)
    losses = plot.add_parser("losses", help="train/valid loss curves of a run")
    losses.add_argument("run_dir")
    grads = plot.add_parser("gradients", help="||dL_T/dh_k|| against k for RNN, LSTM and GRU")
    grads.add_argument("--data", help="text file (default: the bundled Shakespeare)")
    grads.add_argument("--steps", type=int, default=100)
    grads.add_argument("--out", default="gradient_flow.png")
    attn = plot.add_parser("attention", help="cross-attention heatmap of one translated sentence")
    attn.add_argument("run_dir")
    attn.add_argument("--src", required=True, help="the source sentence")
    attn.add_argument("--out", default=None, help="PNG path (default RUN_DIR/attention.png)")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="seqlab", description="Sequence models: RNN, LSTM, GRU, attention, Transformers.")
    sub = ap.add_subparsers(dest="command", required=True)
    _add_train(sub)
    gen = sub.add_parser("generate", help="sample text from a trained language model")
    gen.add_argument("run_dir")
    gen.add_argument("--prime", required=True, help="text to start from")
    gen.add_argument("--length", type=int, default=500, help="tokens to generate")
    _add_sampling(gen)
    tr = sub.add_parser("translate", help="translate sentences with a trained encoder-decoder")
    tr.add_argument("run_dir")
    tr.add_argument("--input", help="a file with one sentence per line (default: stdin)")
    tr.add_argument("--beam", type=int, default=None, help="beam size (default: the run's decode.beam)")
    tr.add_argument("--device", default="auto")
    ev = sub.add_parser("evaluate", help="LM: loss/perplexity/bits on --data; translation: BLEU/chrF on --src/--ref")
    ev.add_argument("run_dir")
    ev.add_argument("--data", help="language model: a text file")
    ev.add_argument("--src", help="translation: source sentences, one per line")
    ev.add_argument("--ref", help="translation: reference translations, line-aligned with --src")
    ev.add_argument("--beam", type=int, default=None)
    ev.add_argument("--batch-size", type=int, default=10)
    ev.add_argument("--device", default="auto")
    demo = sub.add_parser("demo", help="train a character LSTM on the bundled Shakespeare, then sample")
    demo.add_argument("--minutes", type=float, default=2.0)
    demo.add_argument("--run-dir", default="runs/demo")
    _add_plot(sub)
    return ap


def _train_config(args, overrides: list[str]):
    from seqlab.tasks.lm import LMConfig
    from seqlab.tasks.presets import preset
    from seqlab.tasks.translate import TranslateConfig
    from seqlab.train import rundir
    from seqlab.train.config import load_json, parse_overrides, set_key

    pairs = parse_overrides(overrides)
    empty = {"lm": LMConfig, "translate": TranslateConfig}[args.task]
    if args.resume:
        run_dir = Path(args.resume)
        cfg = rundir.read_config(run_dir, args.task, empty())
    else:
        cfg = preset(args.preset, args.task) if args.preset else empty()
        if args.config:
            load_json(cfg, args.config)
        if args.data:
            cfg.data.path = args.data
        run_dir = Path(args.runs) / (args.name or args.preset or args.task)
    for key, value in pairs:
        set_key(cfg, key, value)
    return cfg, run_dir


def cmd_train(args, overrides) -> int:
    from seqlab import plots
    from seqlab.tasks import lm, translate

    cfg, run_dir = _train_config(args, overrides)
    m = (translate if args.task == "translate" else lm).train(cfg, run_dir, resume=bool(args.resume))
    bits = f", {m['bits_per_token']:.3f} bits/token" if "bits_per_token" in m else ""
    print(f"valid loss {m['loss']:.4f} nats/token (ppl {m['ppl']:.2f}{bits}) after {m['steps']} steps; "
          f"best {m['best_loss']:.4f}")
    print(f"run: {run_dir}   plot: {plots.plot_losses(run_dir)}")
    return 0


def cmd_generate(args) -> int:
    from seqlab.generate import SampleConfig
    from seqlab.tasks.lm import sample

    cfg = SampleConfig(args.temperature, args.top_k, args.top_p, args.seed)
    sample(args.run_dir, args.prime, args.length, cfg, on_text=lambda s: (sys.stdout.write(s), sys.stdout.flush()),
           device=args.device)
    sys.stdout.write("\n")
    return 0


def cmd_evaluate(args) -> int:
    from seqlab.data.text import read_text
    from seqlab.tasks import translate
    from seqlab.tasks.lm import evaluate_file

    from seqlab.train.rundir import task_of

    if task_of(args.run_dir) == "translate":
        if not (args.src and args.ref):
            raise UserError("a translation run is evaluated with --src FILE --ref FILE")
        sources, references = read_text(args.src, "--src").splitlines(), read_text(args.ref, "--ref").splitlines()
        if len(sources) != len(references):
            raise UserError(f"--src has {len(sources)} lines but --ref has {len(references)}")
        run = translate.load_run(args.run_dir, args.device)
        m = translate.score(translate.translate_lines(run, sources, args.beam), references)
        print(f"BLEU {m['bleu']:.2f} (lowercased {m['bleu_lc']:.2f})  chrF {m['chrf']:.2f}  ({len(sources)} sentences; {m['bleu_signature']})")
        return 0
    if not args.data:
        raise UserError("a language model is evaluated with --data FILE")
    m = evaluate_file(args.run_dir, args.data, args.batch_size, args.device)
    print(f"loss {m['loss']:.4f} nats/token  perplexity {m['ppl']:.2f}  bits/token {m['bits_per_token']:.4f}  "
          f"({m['tokens']} tokens)")
    return 0


def cmd_translate(args) -> int:
    from seqlab.data.text import read_text
    from seqlab.tasks import translate

    run = translate.load_run(args.run_dir, args.device)
    lines = read_text(args.input, "--input").splitlines() if args.input else sys.stdin.read().splitlines()
    for line in translate.translate_lines(run, lines, args.beam):
        print(line)
    return 0


def cmd_plot(args) -> int:
    from seqlab import plots
    from seqlab.tasks import translate
    from seqlab.tasks.gradients import gradient_flow_plot

    if args.what == "losses":
        print(plots.plot_losses(args.run_dir))
    elif args.what == "gradients":
        print(gradient_flow_plot(args.data, args.steps, Path(args.out)))
    else:
        text, src, out, weights = translate.attention_map(translate.load_run(args.run_dir), args.src)
        print(text)
        out_path = Path(args.out or Path(args.run_dir) / "attention.png")
        print(plots.plot_attention(weights, src, out, out_path, f"attention: {args.src[:40]}"))
    return 0


def cmd_demo(args) -> int:
    from seqlab import plots
    from seqlab.generate import SampleConfig
    from seqlab.tasks import lm
    from seqlab.tasks.gradients import gradient_flow_plot
    from seqlab.tasks.presets import char_lstm_small

    cfg, run_dir = char_lstm_small(), Path(args.run_dir)
    cfg.train.max_minutes = args.minutes
    shutil.rmtree(run_dir, ignore_errors=True)
    print(f"Training a character LSTM ({cfg.model.num_layers}x{cfg.model.hidden_size}) on the bundled tiny "
          f"Shakespeare for up to {args.minutes:g} minutes...")
    metrics = lm.train(cfg, run_dir)
    print(f"valid loss {metrics['loss']:.3f} nats/char ({metrics['bits_per_token']:.3f} bits/char) "
          f"after {metrics['steps']} steps\n\n--- sample (temperature 0.8) ---")
    lm.sample(run_dir, "ROMEO:", 400, SampleConfig(0.8, 0, 1.0, 0),
              on_text=lambda s: (sys.stdout.write(s), sys.stdout.flush()))
    print("\n--- end of sample ---\n")
    print(f"loss curves:   {plots.plot_losses(run_dir)}")
    print(f"gradient flow: {gradient_flow_plot(None, 100, run_dir / 'gradient_flow.png')}")
    print(f"run directory: {run_dir}  (try: seqlab generate {run_dir} --prime 'JULIET:' --length 300)")
    return 0


COMMANDS = {"generate": cmd_generate, "translate": cmd_translate, "evaluate": cmd_evaluate, "plot": cmd_plot,
            "demo": cmd_demo}


def main(argv: list[str] | None = None) -> int:
    args, rest = _parser().parse_known_args(argv)
    if rest and args.command != "train":
        _parser().error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        return cmd_train(args, rest) if args.command == "train" else COMMANDS[args.command](args)
    except TrainingDiverged as e:
        print(f"seqlab: error: {e}", file=sys.stderr)
        return 1
    except UserError as e:
        from seqlab.train.trainer import Interrupted

        print(f"seqlab: {'stopped' if isinstance(e, Interrupted) else 'error'}: {e}", file=sys.stderr)
        return 130 if isinstance(e, Interrupted) else 2
    except KeyboardInterrupt:
        print("seqlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
