"""The public entry points: ``load`` (raising) and ``check`` (reporting)."""

from __future__ import annotations

import os
from pathlib import Path

from rules.compile import Compiled, compile_text
from rules.errors import Problem, RuleFileError
from rules.limits import MAX_FILE_BYTES
from rules.ruleset import Ruleset


def _read(path: Path) -> str | Problem:
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return Problem(name, 1, 1, f"file too large: {size:,} bytes (limit "
                           f"{MAX_FILE_BYTES:,})", "split the rules over several files")
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        return Problem(name, 1, 1, f"not UTF-8 text (byte {exc.start})",
                       "save the file as UTF-8")
    except OSError as exc:
        return Problem(name, 1, 1, f"cannot read file: {exc.strerror}")


def check_file(path: str | os.PathLike[str]) -> Compiled:
    text = _read(Path(path))
    if isinstance(text, Problem):
        return Compiled(None, [text])
    return compile_text(text, str(path))


def check(text: str, name: str = "<rules>") -> Compiled:
    """Compile rule-file text; every error and warning is in ``.problems``."""
    return compile_text(text, name)


def load(path_or_text: str | os.PathLike[str], *, name: str | None = None) -> Ruleset:
    """A Ruleset from a file path or from the text of a rule file.

    A ``str`` that names an existing file is read; any other string is the
    rule file's text. Raises ``RuleFileError`` listing every error.
    """
    if isinstance(path_or_text, os.PathLike) or (
            "\n" not in path_or_text and len(path_or_text) < 4096
            and Path(path_or_text).is_file()):
        compiled = check_file(path_or_text)
        if name is not None:
            compiled.problems = [Problem(name, p.line, p.column, p.message, p.hint, p.severity)
                                 for p in compiled.problems]
    else:
        compiled = compile_text(path_or_text, name or "<rules>")
    if compiled.ruleset is None:
        raise RuleFileError(compiled.errors, compiled.warnings)
    return compiled.ruleset
