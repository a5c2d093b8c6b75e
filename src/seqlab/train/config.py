"""Typed config dataclasses <-> dotted command-line keys and JSON files.

A task's config is a dataclass whose fields are component configs (``data``,
``model``, ``optim``, ``train``), each a dataclass of plain fields.  Every field is
reachable from the command line as ``--model.hidden_size=512`` (or
``--model.hidden_size 512``); an unknown key or a value of the wrong type is a
UserError that names the key.  A JSON config file holds the same tree.  What each field allows (its range,
its choices) is declared in its type (:mod:`seqlab.fields`) and checked by :func:`check` once the config is
complete: the error names the key, the value and the range.
"""
from __future__ import annotations

import dataclasses
import functools
import re
import typing
from pathlib import Path

from seqlab.data.files import read_json
from seqlab.errors import UserError
from seqlab.fields import check, described

__all__ = ["apply_dict", "apply_overrides", "check", "describe", "load_json", "parse_overrides", "set_key", "to_dict"]

_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def _convert(key: str, kind: type, value):
    """``value`` (a string from the command line, or a JSON value) as ``kind``."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in _TRUE | _FALSE:
            return str(value).lower() in _TRUE
        raise UserError(f"config key {key} expects true or false, got {value!r}")
    if typing.get_origin(kind) is typing.Literal:  # its choices are checked with the other ranges
        kind = str
    if kind in (int, float):
        try:
            number = kind(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or (kind is int and isinstance(value, float) and value != int(value)):
            raise UserError(f"config key {key} expects {kind.__name__}, got {value!r}")
        return number
    if not isinstance(value, str):
        raise UserError(f"config key {key} expects a string, got {value!r}")
    return value


def set_key(cfg, key: str, value) -> None:
    """Set the dotted ``key`` (e.g. ``model.hidden_size``) of ``cfg`` from ``value``."""
    *path, name = key.split(".")
    node = cfg
    for part in path:
        if not dataclasses.is_dataclass(node) or part not in {f.name for f in dataclasses.fields(node)}:
            raise UserError(f"unknown config key {key!r} (no section {part!r}); sections: {sections(cfg)}")
        node = getattr(node, part)
    fields = {f.name: f for f in dataclasses.fields(node)} if dataclasses.is_dataclass(node) else {}
    if name not in fields or dataclasses.is_dataclass(getattr(node, name)):
        known = ", ".join(sorted(fields)) if fields else sections(cfg)
        raise UserError(f"unknown config key {key!r}; known here: {known}")
    kind = typing.get_type_hints(type(node))[name]
    setattr(node, name, _convert(key, kind, value))


def apply_overrides(cfg, pairs: list[tuple[str, str]]) -> None:
    """Set each ``(key, value)``.  An explicit ``train.max_steps`` wins over a ``train.epochs`` that a preset,
    a JSON config or the run being resumed had set (epochs would otherwise override it), unless
    ``train.epochs`` is given too."""
    for key, value in pairs:
        set_key(cfg, key, value)
    keys = {key for key, _ in pairs}
    if "train.max_steps" in keys and "train.epochs" not in keys and getattr(cfg, "train", None) is not None:
        cfg.train.epochs = 0


def sections(cfg) -> str:
    return ", ".join(f.name for f in dataclasses.fields(cfg))


def apply_dict(cfg, tree: dict, prefix: str = "") -> None:
    """Apply a nested dict (a JSON config) onto ``cfg``."""
    for key, value in tree.items():
        if isinstance(value, dict):
            apply_dict(cfg, value, f"{prefix}{key}.")
        else:
            set_key(cfg, prefix + key, value)


def load_json(cfg, path: str | Path) -> None:
    apply_dict(cfg, read_json(path, "--config"))


def parse_overrides(args: list[str]) -> list[tuple[str, str]]:
    """``['--a.b=1', '--c.d', '2']`` -> ``[('a.b', '1'), ('c.d', '2')]``."""
    pairs, i = [], 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or len(arg) == 2:
            raise UserError(f"unexpected argument {arg!r}; config overrides look like --model.hidden_size=256")
        if "=" in arg:
            key, value = arg[2:].split("=", 1)
            i += 1
        elif i + 1 < len(args):
            key, value = arg[2:], args[i + 1]
            i += 2
        else:
            raise UserError(f"config key {arg[2:]!r} has no value")
        pairs.append((key, value))
    return pairs


def describe(cfg) -> list[tuple[str, str, object, str]]:
    """(dotted key, type, value, the comment beside the field in its dataclass and what it allows) for every
    field of ``cfg``."""
    rows = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            rows += [(f"{f.name}.{key}", kind, v, note) for key, kind, v, note in describe(value)]
        else:
            kind = typing.get_type_hints(type(cfg), include_extras=True)[f.name]
            base = typing.get_type_hints(type(cfg))[f.name]
            name = "str" if typing.get_origin(base) is typing.Literal else getattr(base, "__name__", str(base))
            allowed = described(kind)
            note = _comments(type(cfg)).get(f.name, "")
            rows.append((f.name, name, value, f"{note} ({allowed})".strip() if allowed else note))
    return rows


@functools.cache
def _comments(cls) -> dict[str, str]:
    """field -> its comment, read from the source of ``cls`` and its bases (the nearest class wins)."""
    import inspect

    found: dict[str, str] = {}
    for klass in reversed([k for k in cls.__mro__ if dataclasses.is_dataclass(k)]):
        try:
            lines = inspect.getsource(klass).splitlines()
        except (OSError, TypeError):
            continue
        current = None
        for line in lines:
            field = re.match(r"\s+(\w+)\s*:[^#]*?(?:#\s*(.*))?$", line)
            if field and not line.lstrip().startswith("#"):
                current = field.group(1)
                found[current] = (field.group(2) or "").strip()
            elif current and line.lstrip().startswith("#"):  # a comment carried on to the next line
                found[current] = f"{found[current]} {line.strip().lstrip('#').strip()}".strip()
            else:
                current = None
    return found
