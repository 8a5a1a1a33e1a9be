"""Named mutants of the SDK's scheduler: realistic mistakes, made in the REAL target's source.

The suite's power is measured by how many plausible mistakes it catches. Each `Mutant` is one
such mistake in ``concurrency/executor.py`` or ``concurrency/models.py``: a transform of the
target's own source text, scoped to one function, that returns None when the pattern it edits is
absent (1.5.0 resubmits one branch under the lock, 1.6.0 drains a wave and refreshes off the
lock, so some mistakes only exist in one generation). Nothing of the SDK is copied into this
project: `materialize` copies the target's package folder into the SDK cache
(``<cache>/mutants/<version>-<name>-<hash>/``), writes the transformed file there, and resolves
that directory like any other ``--sdk`` directory; `load_mutant` imports it.

A mutant marked ``equivalent="why"`` cannot change any recorded behaviour the catalog judges;
the argument is spelled out in docs/mutants.md, and the mutation run still executes it to
check that it survives.
"""

from __future__ import annotations

import ast
import hashlib
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scheduler.target import PACKAGE, SdkModules, Target, TargetError, cache_dir, load, resolve

EXECUTOR = "concurrency/executor.py"
MODELS = "concurrency/models.py"

Edit = Callable[[str], str | None]


class MutantError(Exception):
    """A mutant that cannot be built or used; the message is one line."""


@dataclass(frozen=True)
class Mutant:
    """One realistic mistake: where it is made and how, and whether it can matter at all."""

    name: str
    description: str  # the mistake, in one line, as a reviewer would describe it
    file: str  # EXECUTOR or MODELS, relative to the package folder
    function: str  # "Class.method" whose text the edit sees
    edit: Edit  # the function's text -> mutated text, or None when the pattern is absent
    equivalent: str | None = None  # why no run can tell it apart (argued in docs/mutants.md)

    def transform(self, source: str) -> str | None:
        """The whole file with the mistake made, or None when it does not apply to `source`."""
        span = _function_span(source, self.function)
        if span is None:
            return None
        lines = source.splitlines(keepends=True)
        start, end = span
        mutated = self.edit("".join(lines[start:end]))
        if mutated is None:
            return None
        result = "".join(lines[:start]) + mutated + "".join(lines[end:])
        if result == source:
            return None
        try:
            ast.parse(result)
        except SyntaxError as error:  # a bug in the edit, never in the target
            raise MutantError(f"mutant {self.name} produced invalid Python: {error}") from None
        return result


# ---------------------------------------------------------------------------------------------
# editing helpers: every one returns None unless its pattern occurs exactly once


def _function_span(source: str, qualname: str) -> tuple[int, int] | None:
    """0-based [start, end) line range of `Class.method` (decorators included), or None."""
    class_name, _, function_name = qualname.partition(".")
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == function_name:
                    first = min([d.lineno for d in item.decorator_list] + [item.lineno])
                    return first - 1, item.end_lineno or item.lineno
    return None


def _sub(pattern: str, replacement: str | Callable[[re.Match[str]], str]) -> Edit:
    """Replace the single match of a MULTILINE regex; None when it matches zero or many times."""
    compiled = re.compile(pattern, re.MULTILINE)

    def edit(text: str) -> str | None:
        if len(compiled.findall(text)) != 1:
            return None
        return compiled.sub(replacement, text, count=1)

    return edit


def _chain(*edits: Edit) -> Edit:
    """All edits in order; None as soon as one does not apply."""

    def edit(text: str) -> str | None:
        current: str | None = text
        for step in edits:
            current = step(current)
            if current is None:
                return None
        return current

    return edit


def _delete_line(statement: str) -> Edit:
    """Remove the one line whose stripped text is `statement`."""
    return _sub(rf"^[ ]*{re.escape(statement)}[ ]*\n", "")


def _unwrap(header: str) -> Edit:
    """Remove the one compound-statement line `header` and dedent its block into its place."""

    def edit(text: str) -> str | None:
        lines = text.splitlines(keepends=True)
        found = [i for i, line in enumerate(lines) if line.strip() == header]
        if len(found) != 1:
            return None
        at = found[0]
        indent = len(lines[at]) - len(lines[at].lstrip(" "))
        body_end = at + 1
        while body_end < len(lines) and (
            not lines[body_end].strip()
            or len(lines[body_end]) - len(lines[body_end].lstrip(" ")) > indent
        ):
            body_end += 1
        body = lines[at + 1 : body_end]
        if not any(line.strip() for line in body):
            return None
        shift = min(len(x) - len(x.lstrip(" ")) for x in body if x.strip()) - indent
        dedented = [line[shift:] if line.strip() else line for line in body]
        return "".join(lines[:at] + dedented + lines[body_end:])

    return edit


# ---------------------------------------------------------------------------------------------
# the edits that need more than one substitution


_RESUBMIT_WAVE = r"^(?P<i>[ ]*)if ready:\n(?P=i)    self\.resubmit_callback\(ready\)\n"
_WHILE_DUE = (
    r"^(?P<i>[ ]*)while \(\n[ ]*self\._pending_resumes\n"
    r"[ ]*and self\._pending_resumes\[0\]\[0\] <= current_time\n[ ]*\):\n"
)


def _resubmit_under_lock(text: str) -> str | None:
    """Move `if ready: self.resubmit_callback(ready)` into the drain's `with self._lock:`."""
    loop = re.search(_WHILE_DUE, text, re.MULTILINE)
    if loop is None:
        return None
    inner = loop.group("i")
    moved = f"{inner}if ready:\n{inner}    self.resubmit_callback(ready)\n"
    return _chain(
        _sub(_RESUBMIT_WAVE, ""),
        _sub(r"^(?P<j>[ ]*)ready\.append\(exe_state\)\n", lambda m: m.group(0) + moved),
    )(text)


def _reset_after_unlock(text: str) -> str | None:
    """Pop under the lock, but reset the popped branches to PENDING after releasing it."""
    return _chain(
        _sub(
            r"^(?P<j>[ ]*)exe_state\.reset_to_pending\(\)\n(?P=j)ready\.append\(exe_state\)\n",
            r"\g<j>ready.append(exe_state)\n",
        ),
        _sub(
            _RESUBMIT_WAVE,
            r"\g<i>for exe_state in ready:\n\g<i>    exe_state.reset_to_pending()\n"
            r"\g<i>if ready:\n\g<i>    self.resubmit_callback(ready)\n",
        ),
    )(text)


_WAVE_REFRESH = (
    r"^(?P<i>[ ]*)try:\n(?P=i)    execution_state\.create_checkpoint\(\)\n"
    r"(?P<handler>(?P=i)except[^\n]*\n(?:(?:(?P=i)    [^\n]*)?\n)*?)"
    r"(?P=i)for executable_with_state in ready:\n(?P=i)    submit_task\(executable_with_state\)\n"
)


def _refresh_per_branch(text: str) -> str | None:
    """Move the wave's guarded refresh into the submit loop: one refresh per resumed branch."""

    def move(m: re.Match[str]) -> str:
        i = m.group("i")
        guarded = f"{i}try:\n{i}    execution_state.create_checkpoint()\n" + m.group("handler")
        indented = "".join(
            "    " + line if line.strip() else line for line in guarded.splitlines(keepends=True)
        )
        return (
            f"{i}for executable_with_state in ready:\n"
            + indented
            + f"{i}    submit_task(executable_with_state)\n"
        )

    return _sub(_WAVE_REFRESH, move)(text)


# ---------------------------------------------------------------------------------------------
# the catalog of mutants


MUTANTS: tuple[Mutant, ...] = (
    # TimerScheduler
    Mutant(
        "resubmit_under_lock",
        "resubmit the drained wave (refresh + submit) before releasing the scheduler lock, "
        "as 1.5.0 did",
        EXECUTOR,
        "TimerScheduler._timer_loop",
        _resubmit_under_lock,
    ),
    Mutant(
        "drain_one_per_turn",
        "`if` for `while` in the drain: one due entry per timer turn, each with its own refresh",
        EXECUTOR,
        "TimerScheduler._timer_loop",
        _sub(r"^(?P<i>[ ]*)while \((?=\n[ ]*self\._pending_resumes\n)", r"\g<i>if ("),
    ),
    Mutant(
        "reset_after_unlock",
        "shorten the critical section: pop under the lock, reset to PENDING after releasing it",
        EXECUTOR,
        "TimerScheduler._timer_loop",
        _reset_after_unlock,
    ),
    Mutant(
        "drain_not_due",
        "once the earliest entry is due, drain the whole heap, due or not",
        EXECUTOR,
        "TimerScheduler._timer_loop",
        _sub(_WHILE_DUE, r"\g<i>while self._pending_resumes:\n"),
    ),
    Mutant(
        "due_strict_lt",
        "`<` for `<=` when draining: an entry due exactly now is never popped",
        EXECUTOR,
        "TimerScheduler._timer_loop",
        _sub(
            r"self\._pending_resumes\[0\]\[0\] <= current_time",
            "self._pending_resumes[0][0] < current_time",
        ),
    ),
    Mutant(
        "no_can_resume_check",
        "drop the `can_resume` double check: reset and resubmit every popped entry",
        EXECUTOR,
        "TimerScheduler._timer_loop",
        _unwrap("if exe_state.can_resume:"),
        equivalent=(
            "every popped entry's branch is SUSPENDED_WITH_TIMEOUT and due by the timer's "
            "reading; can_resume is False only after a backward clock step between the two "
            "readings, where the original strands the branch and the mutant resumes it"
        ),
    ),
    Mutant(
        "idle_wait_forever",
        "with nothing scheduled, wait for shutdown with no timeout (as if schedule_resume "
        "woke the timer)",
        EXECUTOR,
        "TimerScheduler._timer_loop",
        _sub(
            r"(if next_resume_time is None:\n(?:[ ]*#[^\n]*\n)*[ ]*self\._shutdown\.wait\()"
            r"timeout=0\.1\)",
            r"\1)",
        ),
    ),
    Mutant(
        "schedule_resume_unlocked",
        "push onto the resume heap without the scheduler lock ('heappush is atomic under the GIL')",
        EXECUTOR,
        "TimerScheduler.schedule_resume",
        _unwrap("with self._lock:"),
    ),
    Mutant(
        "counter_not_incremented",
        "never increment the tie-break counter: entries due at the same time compare branches",
        EXECUTOR,
        "TimerScheduler.schedule_resume",
        _delete_line("self._schedule_counter += 1"),
    ),
    Mutant(
        "shutdown_clear_unlocked",
        "clear the heap on shutdown without the lock ('the timer thread is joined by now')",
        EXECUTOR,
        "TimerScheduler.shutdown",
        _unwrap("with self._lock:"),
    ),
    # ConcurrentExecutor
    Mutant(
        "refresh_per_branch",
        "refresh state once per resumed branch instead of once per wave",
        EXECUTOR,
        "ConcurrentExecutor.execute",
        _refresh_per_branch,
    ),
    Mutant(
        "no_refresh",
        "drop the state refresh before resubmitting ('the branch fetches its own state')",
        EXECUTOR,
        "ConcurrentExecutor.execute",
        _sub(
            r"^(?P<i>[ ]*)execution_state\.create_checkpoint\(\)\n",
            r"\g<i>pass  # mutant: no refresh\n",
        ),
    ),
    Mutant(
        "refresh_error_uncaught",
        "no try/except around the wave's refresh: an error escapes into the timer thread "
        "(1.5.0 style)",
        EXECUTOR,
        "ConcurrentExecutor.execute",
        _sub(
            r"^(?P<i>[ ]*)try:\n(?P=i)    (?P<call>execution_state\.create_checkpoint\(\)\n)"
            r"(?P=i)except Exception[^\n]*\n(?:(?:(?P=i)    [^\n]*)?\n)*?"
            r"(?=(?P=i)for executable_with_state in ready:\n)",
            r"\g<i>\g<call>",
        ),
        equivalent=(
            "create_checkpoint() only ever raises BackgroundThreadError, a BaseException that "
            "`except Exception` never catches, so the handler is dead code"
        ),
    ),
    Mutant(
        "suspend_check_ignores_pending",
        "should_execution_suspend treats only RUNNING as progress, not PENDING",
        EXECUTOR,
        "ConcurrentExecutor.should_execution_suspend",
        _sub(
            r"\{BranchStatus\.PENDING, BranchStatus\.RUNNING\}",
            "{BranchStatus.RUNNING}",
        ),
    ),
    Mutant(
        "timed_suspend_not_scheduled",
        "_on_task_complete marks a TimedSuspend branch but never schedules its resume",
        EXECUTOR,
        "ConcurrentExecutor._on_task_complete",
        _delete_line("scheduler.schedule_resume(exe_state, tse.scheduled_timestamp)"),
    ),
    # ExecutableWithState
    Mutant(
        "can_resume_strict",
        "`>` for `>=` in can_resume: an entry popped exactly at its due time cannot resume",
        MODELS,
        "ExecutableWithState.can_resume",
        _sub(r"time\.time\(\) >= self\._suspend_until", "time.time() > self._suspend_until"),
    ),
    Mutant(
        "can_resume_monotonic",
        "can_resume compares time.monotonic() with a wall-clock suspend_until",
        MODELS,
        "ExecutableWithState.can_resume",
        _sub(r"time\.time\(\) >= self\._suspend_until", "time.monotonic() >= self._suspend_until"),
    ),
    Mutant(
        "reset_keeps_suspend_until",
        "reset_to_pending leaves the old suspend_until in place",
        MODELS,
        "ExecutableWithState.reset_to_pending",
        _delete_line("self._suspend_until = None"),
        equivalent=(
            "suspend_until is read only in SUSPENDED_WITH_TIMEOUT, and the one way into that "
            "state, suspend_with_timeout, overwrites it first"
        ),
    ),
)

BY_NAME: dict[str, Mutant] = {m.name: m for m in MUTANTS}


# ---------------------------------------------------------------------------------------------
# building and loading


def mutant(name: str) -> Mutant:
    """The mutant called `name`; an unknown name is a one-line MutantError."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise MutantError(f"unknown mutant {name!r}: known are {', '.join(BY_NAME)}") from None


def mutated_source(m: Mutant, target: Target) -> str | None:
    """The target's file with `m` applied, or None when the mistake cannot be made there."""
    path = target.package_dir / m.file
    return m.transform(path.read_text(encoding="utf-8"))


def materialize(m: Mutant, target: Target) -> Target | None:
    """A cache directory holding the target's package with `m` applied, resolved as a Target.

    The directory name carries the version, the mutant and a hash of the mutated source, so a
    changed transform or target never reuses a stale copy. It appears atomically (copied into a
    temporary sibling, then renamed), as SDK cache entries do.
    """
    source = mutated_source(m, target)
    if source is None:
        return None
    digest = hashlib.sha256(f"{target.source_hash}\0{m.file}\0{source}".encode()).hexdigest()
    root = cache_dir() / "mutants"
    entry = root / f"{target.version}-{m.name}-{digest[:12]}"
    if not (entry / PACKAGE / m.file).is_file():
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".mutant-", dir=root))
        try:
            shutil.copytree(
                target.package_dir,
                staging / PACKAGE,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            )
            (staging / PACKAGE / m.file).write_text(source, encoding="utf-8")
            staging.chmod(0o755)
            try:
                staging.rename(entry)
            except OSError:
                if not (entry / PACKAGE / m.file).is_file():
                    raise MutantError(f"cannot write the mutant cache entry {entry}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    try:
        return resolve(str(entry))
    except TargetError as error:
        raise MutantError(f"mutant {m.name}: {error}") from None


def load_mutant(m: Mutant, target: Target) -> SdkModules | None:
    """Import the target with `m` applied in place of any SDK imported before (see `load`)."""
    mutated = materialize(m, target)
    if mutated is None:
        return None
    try:
        return load(mutated)
    except TargetError as error:
        raise MutantError(f"mutant {m.name}: {error}") from None
