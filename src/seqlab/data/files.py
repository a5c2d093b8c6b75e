"""Reading a user's files: the whole of a UTF-8 text file (.gz too), or a JSON object; every failure is a
UserError naming the path (missing, empty, not UTF-8, not a whole gzip file, not JSON)."""
from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

from seqlab.errors import UserError


def read_text(path: str | Path, what: str = "data") -> str:
    """The whole file as text, or a UserError naming the path: missing, empty, not UTF-8."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what}: no such file: {path}")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise UserError(f"{what}: {path} is not a whole gzip file ({e})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"{what}: {path} is not UTF-8 text (bad byte at offset {e.start})") from None
    if not text.strip():
        raise UserError(f"{what}: {path} is empty")
    return text


def read_json(path: str | Path, what: str = "run") -> dict:
    """A JSON object from a file, or a UserError naming the path: missing, empty, not UTF-8, not JSON, not an object."""
    text = read_text(path, what)
    try:
        tree = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{what}: {path} is not valid JSON (line {e.lineno}: {e.msg})") from None
    if not isinstance(tree, dict):
        raise UserError(f"{what}: {path} must hold a JSON object")
    return tree
