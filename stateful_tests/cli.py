"""Shared command-line conventions: bad input is one clear line on stderr and exit 2."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

from scheduler.target import SdkModules, TargetError, load, resolve

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (`<prog>: error: ...`) and exit 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def die(prog: str, message: str) -> NoReturn:
    print(f"{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


def load_sdk(prog: str, spec: str | None) -> SdkModules:
    try:
        return load(resolve(spec))
    except TargetError as exc:
        die(prog, str(exc))


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {text}")
    return value


def json_ready(value: Any) -> Any:
    """Replace what json cannot encode (tuples stay lists; everything else becomes str)."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
