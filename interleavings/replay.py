"""Versioned replay files: the choice sequence plus whatever the caller needs to rebuild the run.

The runtime knows nothing of the SDK, so the SDK, scenario and invariant travel in `payload`;
this module only guarantees the envelope: its format, version, and a choice list of integers.
Files are written atomically (temp file + rename), so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "interleavings-replay"
VERSION = 1


class ReplayFileError(Exception):
    """The file cannot be replayed; the message is one line for the user."""


@dataclass
class ReplayFile:
    choices: list[int]
    payload: dict[str, Any] = field(default_factory=dict)
    python: str = field(default_factory=platform.python_version)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "python": self.python,
            "choices": self.choices,
            "payload": self.payload,
        }


def save(replay: ReplayFile, path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(replay.to_json(), indent=1, sort_keys=True) + "\n"
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".replay-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target


def load(path: str | os.PathLike[str]) -> ReplayFile:
    p = Path(path)
    try:
        raw = p.read_text()
    except FileNotFoundError:
        raise ReplayFileError(f"replay file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayFileError(f"cannot read replay file {p}: {exc}") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ReplayFileError(f"corrupt replay file {p}: not JSON ({exc.msg})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ReplayFileError(f"not a replay file: {p} (format is not {FORMAT!r})")
    if data.get("version") != VERSION:
        raise ReplayFileError(
            f"replay file {p} has version {data.get('version')!r}; this tool reads {VERSION}"
        )
    choices = data.get("choices")
    if not isinstance(choices, list) or not all(
        isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in choices
    ):
        raise ReplayFileError(f"corrupt replay file {p}: choices must be non-negative integers")
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise ReplayFileError(f"corrupt replay file {p}: payload must be an object")
    return ReplayFile(choices=choices, payload=payload, python=str(data.get("python", "?")))
