"""The ``seqlab`` command line.

    seqlab demo                                   train a small character LSTM, sample, plot
    seqlab train TASK --data PATH [--preset NAME] [--config FILE] [--model.hidden_size=512 ...]
    seqlab train TASK --resume RUN_DIR [--train.max_steps=...]
    seqlab train TASK [--preset P] [--section.key=value ...] --print-config     the resolved config as JSON
    seqlab train TASK --help                                     every config field, its type, default and meaning
    seqlab predict RUN_DIR [--input FILE ...] [--output FILE] [task options]   (stdin -> stdout by default)
    seqlab evaluate RUN_DIR [task options]                       (e.g. --data FILE; --src/--ref for translation)
    seqlab generate RUN_DIR --prime TEXT --length N [--temperature T --top-k K --top-p P --seed S]
    seqlab translate RUN_DIR [--input FILE] [--beam K]          (predict, for translation runs)
    seqlab transcribe RUN_DIR FILE.wav ... [--beam K]           (predict, for speech runs)
    seqlab plot losses RUN_DIR
    seqlab plot gradients [--data FILE] [--steps T] [--out PNG]
    seqlab plot attention RUN_DIR --src TEXT [--out PNG]               (declared by the translate task)

TASK is any task of :mod:`seqlab.tasks.registry` (lm, translate, classify, tag, ...);
``seqlab predict`` and ``seqlab evaluate`` read the task from the run's config.json and
take that task's options, which the task declares as a dataclass; this module alone turns
them (and the config fields) into flags.

Mistakes (a missing file, an unknown key, a bad value) end with one line on stderr
naming what is wrong, and exit status 2; a NaN loss exits 1; Ctrl-C saves a
checkpoint and exits 130.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import types
import typing
from pathlib import Path

from seqlab.errors import TrainingDiverged, UserError


class _Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes are one line (a UserError naming the command) instead of the usage.
    No abbreviated flags: the generic options and a task's own are parsed in two passes, and a prefix of one
    (forecast's --out) must never be taken for another (--output)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        raise UserError(f"{message} (see: {self.prog} --help)")


def _scalar(kind) -> type:
    """int | None -> int; list[str] -> str."""
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        kind = next(k for k in typing.get_args(kind) if k is not type(None))
    return typing.get_args(kind)[0] if typing.get_origin(kind) is list else kind


def add_options(parser: argparse.ArgumentParser, options: type) -> None:
    """A task's options dataclass as flags: ``train_words`` -> ``--train-words``; no default: required; a
    ``Literal`` field's values are its choices, a numeric field's range is said in its help."""
    from seqlab.fields import described, hints

    kinds = hints(options)
    for f in dataclasses.fields(options):
        declared = typing.get_type_hints(options)[f.name]
        meta, kind = f.metadata, _scalar(declared)
        if meta.get("positional") and typing.get_origin(declared) is list:  # the files a predict reads
            parser.add_argument(f.name, nargs="*", type=kind, help=f"{meta.get('help')} (or --input FILE)")
            continue
        if meta.get("positional"):
            parser.add_argument(f.name, type=kind, help=meta.get("help"))
            continue
        required = f.default is dataclasses.MISSING
        default = None if required else f.default
        if kind is bool:
            extra = {"action": "store_true"}
        elif typing.get_origin(kind) is typing.Literal:  # checked with the ranges: one line naming the choices
            extra = {"type": str, "metavar": "{" + ",".join(typing.get_args(kind)) + "}"}
        elif kind in (int, float):
            allowed = described(kinds[f.name])
            extra = {"type": kind, "metavar": f"{kind.__name__.upper()}{f' ({allowed})' if allowed else ''}"}
        else:
            extra = {"type": kind}
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, required=required, default=default,
                            help=meta.get("help"), **extra)


def parsed_options(namespace: argparse.Namespace, options: type):
    """The options dataclass from parsed flags, each value checked against its field's range."""
    from seqlab.fields import check

    parsed = options(**{f.name: getattr(namespace, f.name) for f in dataclasses.fields(options)})
    check(parsed, "--")
    return parsed


def _config_help(task) -> str:
    """Every config field of ``task`` with its type, default and comment, and the presets."""
    from seqlab.train.config import describe

    rows = describe(task.config())
    width = max(len(f"--{key}={kind}") for key, kind, _, _ in rows)
    lines = [f"  {f'--{key}={kind}':<{width}}  default {json.dumps(value)}{'  ' + note if note else ''}"
             for key, kind, value, note in rows]
    presets = ", ".join(task.presets) or "none"
    return "config fields (--section.key=value; a JSON --config file holds the same tree):\n" + "\n".join(lines) + \
        f"\n\npresets (--preset NAME): {presets}"


class _TrainParser(_Parser):
    """``seqlab train TASK``: its help ends with the task's config fields, read only when help is asked for."""

    task = None

    def format_help(self) -> str:
        if self.task is not None:
            self.epilog = _config_help(self.task)
        return super().format_help()


def _add_train(sub) -> None:
    from seqlab.tasks.registry import tasks

    train = sub.add_parser("train", help="train a model").add_subparsers(dest="task", required=True,
                                                                         parser_class=_TrainParser)
    for task in tasks().values():
        p = train.add_parser(task.name, help=task.help, formatter_class=argparse.RawDescriptionHelpFormatter)
        p.task = task
        p.add_argument("--data", nargs="+" if task.many_files else None, help=task.data_help)
        p.add_argument("--preset", help=f"a named starting configuration: {', '.join(task.presets) or 'none'}")
        p.add_argument("--config", help="a JSON file with config fields")
        p.add_argument("--name", help="run name (default: the preset's); the run lives in RUNS/NAME")
        p.add_argument("--runs", default="runs", help="directory of run directories (default runs/)")
        p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted or finished run")
        p.add_argument("--print-config", action="store_true",
                       help="print the resolved config as JSON (the form --config reads) and stop")


def _add_plot(sub) -> None:
    plot = sub.add_parser("plot", help="plots").add_subparsers(dest="what", required=True)
    losses = plot.add_parser("losses", help="train/valid loss curves of a run")
    losses.add_argument("run_dir")
    grads = plot.add_parser("gradients", help="||dL_T/dh_k|| against k for RNN, LSTM and GRU")
    grads.add_argument("--data", help="text file (default: the bundled Shakespeare)")
    grads.add_argument("--steps", type=int, default=100)
    grads.add_argument("--out", default="gradient_flow.png")
    for name, (task, command) in _task_commands("plot").items():
        add_options(plot.add_parser(name, help=f"{command.help} ({task.name} runs)"), command.options)


def _groups() -> list[str]:
    """The groups of commands that tasks declare besides ``plot`` (``seqlab prepare lm``)."""
    from seqlab.tasks.registry import tasks

    return sorted({c.group for task in tasks().values() for c in task.commands.values()} - {"", "plot"})


def _add_groups(sub) -> None:
    for group in _groups():
        commands = _task_commands(group)
        parser = sub.add_parser(group, help=f"{group}: {', '.join(commands)}")
        named = parser.add_subparsers(dest="what", required=True)
        for name, (_, command) in commands.items():
            add_options(named.add_parser(name, help=command.help), command.options)


def _task_commands(group: str = "") -> dict:
    """The commands that tasks add (:class:`seqlab.tasks.registry.Command`) in ``group``: name -> (task, command)."""
    from seqlab.tasks.registry import tasks

    return {name: (task, command) for task in tasks().values() for name, command in task.commands.items()
            if command.group == group}


def _names(tasks, what: str) -> str:
    """The names of the tasks that have ``what`` (generate, export), for help and errors."""
    return ", ".join(sorted(task.name for task in tasks if getattr(task, what) is not None))


def _add_input(parser) -> None:
    from seqlab.data.lines import MAX_CHARS

    parser.add_argument("--input", action="append", metavar="FILE",
                        help="what the run reads (seqlab predict RUN_DIR --help says what): a file, a glob, or - "
                             "for stdin; repeatable (default: stdin)")
    parser.add_argument("--max-chars", type=int, default=MAX_CHARS,
                        help=f"refuse an input line longer than this (default {MAX_CHARS:,}; bounds memory)")
    parser.add_argument("--output", metavar="FILE",
                        help="write the predictions to FILE instead of stdout (in full, then moved into place)")


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="seqlab", description="Sequence models: RNN, LSTM, GRU, attention, Transformers.")
    sub = ap.add_subparsers(dest="command", required=True)
    _add_train(sub)
    from seqlab.generate import GenerateOptions
    from seqlab.tasks.registry import tasks

    gen = sub.add_parser("generate", help=f"sample text from a trained run ({_names(tasks().values(), 'generate')})")
    gen.add_argument("run_dir")
    gen.add_argument("--device", default="auto")
    add_options(gen, GenerateOptions)
    for task in tasks().values():  # a task's own name for its predictions: seqlab translate, seqlab transcribe
        if task.command:
            alias = sub.add_parser(task.command, help=f"predict, for {task.name} runs ({task.help})",
                                   epilog=f"Its options: seqlab {task.command} RUN_DIR --help")
            alias.add_argument("run_dir")
            alias.add_argument("--device", default="auto")
            _add_input(alias)
    for name, what in (("predict", "run a trained model on input lines (the run's task decides the output)"),
                       ("evaluate", "score a trained model on labelled data (the run's task decides the metrics)")):
        p = sub.add_parser(name, help=what, epilog=f"The run's task adds its own options: seqlab {name} RUN_DIR --help")
        p.add_argument("run_dir")
        p.add_argument("--device", default="auto")
        if name == "predict":
            _add_input(p)
    export = sub.add_parser("export", help=f"write a trained recurrent model ({_names(tasks().values(), 'export')}) "
                                           "as ONNX")
    export.add_argument("run_dir")
    export.add_argument("--format", default="onnx", help="onnx (the only format)")
    export.add_argument("--out", default=None, help="directory to write (default RUN_DIR/export)")
    serve = sub.add_parser("serve", help="a browser demo of trained runs: a panel per run (needs seqlab[serve])")
    serve.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--device", default="auto")
    for name, (_, command) in _task_commands().items():  # seqlab demo, ...: declared by their tasks
        add_options(sub.add_parser(name, help=command.help), command.options)
    _add_plot(sub)
    _add_groups(sub)
    return ap


def _train_config(args, overrides: list[str]):
    from seqlab.tasks import registry
    from seqlab.train import rundir
    from seqlab.train.config import apply_overrides, load_json, parse_overrides

    pairs = parse_overrides(overrides)
    task = registry.get(args.task)
    if args.resume:
        run_dir = Path(args.resume)
        cfg = rundir.read_config(run_dir, args.task, task.config())
    else:
        cfg = task.preset(args.preset) if args.preset else task.config()
        if args.config:
            load_json(cfg, args.config)
        if args.data:
            cfg.data.path = ",".join(args.data) if task.many_files else args.data
        run_dir = Path(args.runs) / (args.name or args.preset or args.task)
    apply_overrides(cfg, pairs)
    return task, cfg, run_dir


def cmd_train(args, overrides) -> int:
    from seqlab import plots
    from seqlab.tasks.recipe import train_report
    from seqlab.train import distributed
    from seqlab.train.config import check, to_dict

    task, cfg, run_dir = _train_config(args, overrides)
    check(cfg)
    if args.print_config:
        print(json.dumps(to_dict(cfg), indent=2))
        return 0
    distributed.setup(cfg.train.device)  # under torchrun: the process group (one process: nothing)
    result = task.train(cfg, run_dir, resume=bool(args.resume))
    if distributed.is_main():
        print(train_report(result))
        if "test" in result:
            print(f"test:\n{task.report(task.load(run_dir, cfg.train.device), result['test'])}")
        print(f"run: {run_dir}   plot: {plots.plot_losses(run_dir)}")
    return 0


def _task_parser(command: str, run_dir: str):
    """The run's task and a parser of the options it takes for ``command``."""
    from seqlab.tasks import registry

    task = registry.of_run(run_dir)
    if command == "evaluate":
        what = "--device"
    else:
        what = f"--device and --input FILE (repeatable; a glob; - for stdin). {_reads(task)}"
    parser = _Parser(prog=f"seqlab {command} {run_dir}",
                                     description=f"Options of a {task.name} run, besides {what}")
    add_options(parser, _options_of(task, command))
    return task, parser


def _files_option(task) -> dataclasses.Field | None:
    """The positional list of files that a task's predict reads (images, recordings), if it has one."""
    return next((f for f in dataclasses.fields(task.predict_options) if f.metadata.get("positional")), None)


def _reads(task) -> str:
    """What ``seqlab predict`` on a run of ``task`` reads, in one sentence."""
    files = _files_option(task)
    if task.reads_lines:
        return "It reads lines of text (.gz too) from --input, or stdin; one result per line."
    if files is not None:
        return (f"It reads {files.metadata['help']}: --input FILE, a glob, or the files as arguments "
                "(--input - reads their paths from stdin).")
    return "It reads no --input: the options below say what it predicts from."


def _options_of(task, command: str) -> type:
    return task.evaluate_options if command == "evaluate" else task.predict_options


def _task_options(args, rest: list[str]):
    """The run's task and its options (the task's dataclass), parsed from what the generic parser left."""
    task, parser = _task_parser(args.command, args.run_dir)
    return task, parsed_options(parser.parse_args(rest), _options_of(task, args.command))


def cmd_predict(args, rest) -> int:
    from seqlab.data.lines import input_paths, lines_of

    task, options = _task_options(args, rest)
    paths = input_paths(getattr(args, "input", None))
    files = _files_option(task)
    lines = iter(())
    if task.reads_lines:  # streamed: a line at a time, each at most --max-chars
        lines = lines_of(paths, args.max_chars)
    elif files is not None:  # --input and the positional shorthand name the same files
        named = [line.strip() for line in lines_of(["-"], args.max_chars) if line.strip()] if "-" in paths else []
        options = dataclasses.replace(options, **{files.name: [*getattr(options, files.name),
                                                               *(p for p in paths if p != "-"), *named]})
        if not getattr(options, files.name):
            raise UserError(f"no input: a {task.name} run reads {files.metadata['help']}; give them as --input FILE "
                            f"(or a glob) or as arguments")
    elif paths:
        raise UserError(f"a {task.name} run reads no --input; its options: seqlab predict {args.run_dir} --help")
    run = task.load(args.run_dir, args.device)
    if not args.output:
        for line in task.predict(run, lines, options):
            print(line, flush=True)
        return 0
    out = Path(args.output)
    if out.is_dir() or not out.parent.is_dir():
        raise UserError(f"--output {out}: {'a directory' if out.is_dir() else 'its directory does not exist'}")
    partial = out.with_name(f".{out.name}.partial")
    try:
        with open(partial, "w", encoding="utf-8") as f:
            for line in task.predict(run, lines, options):
                f.write(line + "\n")
        partial.replace(out)  # a reader never sees half a file
    finally:
        partial.unlink(missing_ok=True)
    return 0


def cmd_evaluate(args, rest) -> int:
    task, options = _task_options(args, rest)
    run = task.load(args.run_dir, args.device)
    print(task.report(run, task.evaluate(run, options)))
    return 0


def cmd_generate(args) -> int:
    from seqlab.generate import GenerateOptions
    from seqlab.tasks import registry

    options = parsed_options(args, GenerateOptions)
    task = registry.of_run(args.run_dir)
    if task.generate is None:
        raise UserError(f"{args.run_dir} is a {task.name} run; seqlab generate samples from "
                        f"{_names(registry.tasks().values(), 'generate')} runs")
    task.generate(args.run_dir, options, args.device, lambda s: (sys.stdout.write(s), sys.stdout.flush()))
    return 0


def cmd_alias(args, rest) -> int:
    """``seqlab translate|transcribe RUN_DIR ...``: predict, for runs of the task that owns the verb."""
    from seqlab.tasks import registry

    task = registry.of_run(args.run_dir)
    if task.command != args.command:
        raise UserError(f"{args.run_dir} is a {task.name} run, not one for seqlab {args.command}: "
                        f"use seqlab predict {args.run_dir}")
    return cmd_predict(args, rest)


def cmd_plot(args) -> int:
    from seqlab import plots
    from seqlab.tasks.gradients import gradient_flow_plot

    if args.what == "losses":
        print(plots.plot_losses(args.run_dir))
    elif args.what == "gradients":
        print(gradient_flow_plot(args.data, args.steps, Path(args.out)))
    else:  # a plot that a task declares
        _, command = _task_commands("plot")[args.what]
        command.run(parsed_options(args, command.options))
    return 0


def cmd_task_command(args) -> int:
    """``seqlab NAME ...`` or ``seqlab GROUP NAME ...``: a command that a task declares (seqlab demo, seqlab
    prepare lm)."""
    grouped = args.command in _groups()
    _, command = _task_commands(args.command if grouped else "")[args.what if grouped else args.command]
    command.run(parsed_options(args, command.options))
    return 0


def cmd_export(args) -> int:
    from seqlab.export import check_format, export_onnx
    from seqlab.tasks import registry

    check_format(args.format)
    task = registry.of_run(args.run_dir)
    if task.export is None:
        exportable = sorted(t.name for t in registry.tasks().values() if t.export is not None)
        raise UserError(f"{args.run_dir} is a {task.name} run; export covers {', '.join(exportable)} runs")
    spec = task.export(task.load(args.run_dir, "cpu"))
    info = export_onnx(spec, args.out or Path(args.run_dir) / "export", f"seqlab export {args.run_dir}",
                       {"task": task.name})
    diff = info["max_abs_difference"]
    check = "not checked (onnxruntime not installed)" if diff is None else f"max |onnxruntime - torch| = {diff:.2e}"
    print(f"{info['dir']}/{info['file']}: inputs {', '.join(info['inputs'])} -> outputs "
          f"{', '.join(info['outputs'])}; {check}; see export.json")
    return 0


def cmd_serve(args) -> int:
    from seqlab.serve.app import serve

    serve(args.run_dirs, args.host, args.port, args.device)
    return 0


_OUT_OF_MEMORY = ("can't allocate memory", "not enough memory", "out of memory", "Cannot allocate memory")
COMMANDS = {"generate": cmd_generate, "plot": cmd_plot, "export": cmd_export, "serve": cmd_serve}
TAKES_OPTIONS = {"train": cmd_train, "predict": cmd_predict, "evaluate": cmd_evaluate}


def _task_help(argv: list[str]) -> bool:
    """``seqlab predict|evaluate RUN_DIR --help``: the options of that run's task."""
    if len(argv) < 3 or argv[0] not in ("predict", "evaluate", *_aliases()) or not {"-h", "--help"} & set(argv[2:]):
        return False
    if not (Path(argv[1]) / "config.json").is_file():
        return False
    try:
        _task_parser(argv[0], argv[1])[1].print_help()
    except UserError:
        return False
    return True


def _aliases() -> set[str]:
    from seqlab.tasks.registry import tasks

    return {task.command for task in tasks().values() if task.command}


def _check_cpu_capability() -> None:
    """ATEN_CPU_CAPABILITY above what the CPU has makes torch's own kernels stop the process ("Illegal
    instruction"): say so in one line first."""
    from seqlab.nn import fused

    asked = os.environ.get("ATEN_CPU_CAPABILITY", "").strip().upper()
    missing = fused.lacks(asked) if asked in fused.ISAS else set()
    if missing:
        raise UserError(f"ATEN_CPU_CAPABILITY={os.environ['ATEN_CPU_CAPABILITY']}, but this CPU lacks "
                        f"{', '.join(sorted(missing))}: torch's kernels would stop with 'Illegal instruction'; unset "
                        "it or give a lower one (avx2, default)")


def main(argv: list[str] | None = None) -> int:
    from seqlab.train.trainer import flush_denormals

    flush_denormals()  # before torch starts its worker threads: they inherit the flag
    argv = sys.argv[1:] if argv is None else argv
    if _task_help(argv):
        return 0
    try:
        _check_cpu_capability()
        args, rest = _parser().parse_known_args(argv)
        commands = {**TAKES_OPTIONS, **dict.fromkeys(_aliases(), cmd_alias)}
        if rest and args.command not in commands:
            raise UserError(f"unrecognized arguments: {' '.join(rest)} (see: seqlab {args.command} --help)")
        if args.command in commands:
            return commands[args.command](args, rest)
        return COMMANDS.get(args.command, cmd_task_command)(args)
    except TrainingDiverged as e:
        print(f"seqlab: error: {e}", file=sys.stderr)
        return 1
    except UserError as e:
        from seqlab.train.trainer import Interrupted, Preempted

        print(f"seqlab: {'stopped' if isinstance(e, Interrupted) else 'error'}: {e}", file=sys.stderr)
        return 143 if isinstance(e, Preempted) else 130 if isinstance(e, Interrupted) else 2
    except (RuntimeError, MemoryError) as e:  # a size that passed its range but does not fit this machine
        if not isinstance(e, MemoryError) and not any(w in str(e) for w in _OUT_OF_MEMORY):
            raise
        import re

        asked = re.search(r"allocate (\d+) bytes", str(e))
        size = f" ({int(asked.group(1)) / 2**30:,.1f} GiB asked for)" if asked else ""
        print(f"seqlab: error: out of memory{size}: a setting is too large for this machine (a model size, a "
              "batch, a length); make it smaller", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("seqlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of stdout (say, head) stopped early: end quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
