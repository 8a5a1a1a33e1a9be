"""The story of one run, told twice: as text rows for a terminal and as an HTML swimlane picture.

A reviewer of a counterexample needs three things the raw trace does not give: which line of the
SDK each step ran (the runtime records the first frame outside `interleavings/`, which is often
the adapter's wrapper around the SDK's lock, heap or clock), what the scheduler's state was
(who holds the scheduler lock, what waits on the resume heap, which refresh and which wave is in
flight), and where exactly the invariant broke and why. `story()` derives all of it from the
trace and the event record; `render_text()` and `timeline_html()` only lay it out.

The SDK lines come from replaying the run once more with an observer that walks the stack of the
stepping thread to its innermost SDK frame. The runtime is deterministic, so the replay is the
same run; it is checked step by step, and when it differs the recorded locations are used.
"""

from __future__ import annotations

import html
import linecache
import os
import re
import sys
import textwrap
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interleavings.execution import Execution, Outcome
from interleavings.strategies import Replay
from interleavings.trace import Step
from invariants import Violation
from scheduler.adapter_v1 import ExecutorRun, Recorder, run_executor
from scheduler.scenario import describe

SCHEDULER_LOCK = "sched.lock"  # how the TimerScheduler's lock is named in what we print
IDLE_OPS = frozenset({"wait", "wait_timeout", "idle", "join", "is_set"})
VIOLATION_COLOR = "#ff0040"  # used for nothing else, so a screenshot can find the marker
THREAD_COLORS = (
    "#1f77b4",  # blue
    "#ff7f0e",  # orange
    "#2ca02c",  # green
    "#9467bd",  # purple
    "#8c564b",  # brown
    "#17becf",  # cyan
    "#bcbd22",  # olive
    "#e377c2",  # pink
)
REFRESH_COLOR = "#2a9d8f"
REFRESH_FAIL_COLOR = "#7a0019"
HEAP_COLOR = "#c7d7ea"
WAVE_COLOR = "#444444"

# --------------------------------------------------------------------------- SDK source lines

Location = tuple[str, int]
_SOURCES: weakref.WeakKeyDictionary[Recorder, dict[int, Location]] = weakref.WeakKeyDictionary()


def sdk_package_prefix(sdk: Any) -> str:
    """The folder of the SDK package under test, as its code objects name their files."""
    return os.path.dirname(os.path.dirname(sdk.executor.__file__)) + os.sep


def source_observer(sdk: Any) -> Callable[[Execution, Recorder], None]:
    """An `observe=` hook for `run_executor` that notes, per step, the innermost SDK frame.

    The observer runs on the stepping thread's own stack, right after the step is recorded, so
    walking outwards from it passes the runtime and the adapter's wrappers and stops at the line
    of the SDK that made the call. Pass it to `run_executor` to get the lines without a replay.
    """
    prefix = sdk_package_prefix(sdk)

    def attach(ex: Execution, recorder: Recorder) -> None:
        found: dict[int, Location] = {}
        _SOURCES[recorder] = found

        def on_step(step: Step) -> None:
            frame = sys._getframe(1)
            while frame is not None and not frame.f_code.co_filename.startswith(prefix):
                frame = frame.f_back
            if frame is not None:
                found[step.index] = (frame.f_code.co_filename, frame.f_lineno)

        ex.observe(on_step)

    return attach


def _same_run(a: list[Step], b: list[Step]) -> bool:
    key = [(s.tid, s.op, s.obj, s.detail, s.time) for s in a]
    return key == [(s.tid, s.op, s.obj, s.detail, s.time) for s in b]


def sdk_sources(run: ExecutorRun, outcome: Outcome) -> dict[int, Location]:
    """Step index -> (file, line) of the SDK code that step ran; empty when unknown."""
    known = _SOURCES.get(run.recorder)
    if known is not None:
        return known
    budget = outcome.status == "budget"
    try:
        again, rerun = run_executor(
            run.sdk,
            run.scenario,
            Replay(list(outcome.choices)),
            granularity=run.granularity,
            max_steps=outcome.steps if budget else outcome.steps + 1,
            observe=source_observer(run.sdk),
        )
    except Exception:  # the picture must never hide the finding it explains
        return {}
    found = _SOURCES.get(rerun.recorder, {})
    if not _same_run(again.trace.steps, outcome.trace.steps):
        found = {}
    _SOURCES[run.recorder] = found
    return found


def code_at(location: Location) -> str:
    """The source text of a line, stripped; empty when the file cannot be read."""
    file, line = location
    return linecache.getline(file, line).strip() if file and line else ""


# --------------------------------------------------------------------------- the story


@dataclass(frozen=True)
class Span:
    """Something that lasts from step `start` up to (not including) step `end`."""

    start: int
    end: int
    label: str
    thread: str = ""
    failed: bool = False


@dataclass
class Story:
    """Everything both renderings show, aligned to trace step indices."""

    steps: list[Step]
    threads: list[tuple[int, str]]
    where: list[Location]  # per step: the SDK line, else the recorded location
    lock: list[str]  # per step: who holds the scheduler lock after it ("" = nobody)
    heap: list[tuple[str, ...]]  # per step: the pending resumes after it, earliest first
    notes: dict[int, list[str]]  # per step: scheduler events that happened right after it
    lock_spans: list[Span] = field(default_factory=list)
    refreshes: list[Span] = field(default_factory=list)
    waves: list[tuple[int, list[int]]] = field(default_factory=list)
    lock_label: str = ""  # the runtime's label of the scheduler lock, e.g. "Lock#2"

    def code(self, index: int) -> str:
        return code_at(self.where[index])

    def place(self, index: int) -> str:
        file, line = self.where[index]
        return f"{os.path.basename(file)}:{line}" if file else ""

    def op_text(self, step: Step) -> str:
        """The step as a reader names it: the scheduler lock and branch statuses by role."""
        text = step.describe()
        if self.lock_label:
            text = re.sub(rf"\b{re.escape(self.lock_label)}\b", SCHEDULER_LOCK, text)
        return text.replace("ExecutableWithState._status", "status")


_SHORT_STATUS = {"SUSPENDED_WITH_TIMEOUT": "SUSPENDED(t)"}


def _status(name: Any) -> str:
    return _SHORT_STATUS.get(str(name), str(name))


def _note(event: Any) -> str | None:
    """One short phrase per scheduler event worth a reader's attention; None for the rest."""
    k, b, d = event.kind, event.branch, event.data
    if k == "resubmit":
        return f"wave {d.get('branches')}"
    if k == "refresh_start":
        return f"refresh#{d.get('call')} starts"
    if k == "refresh_end":
        return f"refresh#{d.get('call')} done"
    if k == "refresh_fail":
        return f"refresh#{d.get('call')} FAILS {d.get('error')}"
    if k == "submit":
        return f"submit b{b}"
    if k == "status":
        return f"b{b} {_status(d.get('old'))}->{_status(d.get('new'))}"
    if k == "callback":
        return f"done-callback b{b}" + (" inline" if d.get("inline") else "")
    if k == "callback_error":
        return f"done-callback b{b} raised {d.get('error')}"
    if k == "suspend_check":
        return "suspend? " + ("yes" if d.get("suspend") else "no")
    if k == "attempt_start":
        return f"b{b} attempt {d.get('attempt')}"
    if k == "execute_return":
        return f"execute() returns {d.get('reason')}"
    if k == "execute_raise":
        return f"execute() raises {d.get('error')}"
    if k == "thread_crash":
        return f"crash {d.get('error')}"
    if k == "clock_step":
        return f"wall clock {d.get('delta'):+g}s"
    return None


def _next_step_of(steps: list[Step], after: int, thread: str, op: str) -> int:
    """The step at which `thread` next does `op` after step `after` (the release itself)."""
    fallback = None
    for s in steps[after + 1 :]:
        if s.thread == thread:
            if s.op == op:
                return s.index
            if fallback is None:
                fallback = s.index
    return fallback if fallback is not None else min(after + 1, len(steps))


def story(outcome: Outcome, run: ExecutorRun) -> Story:
    """Align the event record to the trace and derive lock, heap, refresh and wave state."""
    steps = outcome.trace.steps
    n = len(steps)
    sources = sdk_sources(run, outcome)
    where = [sources.get(s.index, (s.file, s.line)) for s in steps]
    at = run.recorder.steps  # event seq -> the step it happened after

    lock_changes: dict[int, str] = {}
    heap_changes: dict[int, dict[int, tuple[float, int]]] = {}
    notes: dict[int, list[str]] = {}
    spans: list[Span] = []
    refreshes: list[Span] = []
    waves: list[tuple[int, list[int]]] = []
    lock_label = ""
    holder, held_from = "", 0
    heap: dict[int, tuple[float, int]] = {}  # entry -> (resume time, branch)
    refresh_open: dict[int, int] = {}  # call -> start step
    last = max(n - 1, 0)

    for event in run.record.events:
        if event.kind == "run_end":
            continue
        k = min(max(at[event.seq] if event.seq < len(at) else last, 0), last)
        kind = event.kind
        if kind == "lock_acquire" and event.get("lock") == "scheduler":
            holder, held_from = event.thread, k
            lock_changes[k] = holder
            if not lock_label and n and steps[k].op == "acquire":
                lock_label = steps[k].obj
        elif kind == "lock_release" and event.get("lock") == "scheduler":
            end = _next_step_of(steps, k, event.thread, "release")
            spans.append(Span(held_from, end, event.thread, event.thread))
            holder = ""
            if end < n:
                lock_changes[end] = ""
        elif kind == "heap_push":
            heap[event["entry"]] = (event["resume_time"], event.branch)
            heap_changes[k] = dict(heap)
        elif kind == "heap_pop":
            heap.pop(event["entry"], None)
            heap_changes[k] = dict(heap)
        elif kind == "heap_clear":
            heap.clear()
            heap_changes[k] = {}
        elif kind == "refresh_start":
            refresh_open[event["call"]] = k
        elif kind in ("refresh_end", "refresh_fail"):
            call = event["call"]
            start = refresh_open.pop(call, k)
            failed = kind == "refresh_fail"
            label = f"refresh #{call}" + (f" fails: {event.get('error')}" if failed else "")
            refreshes.append(Span(start, k + 1, label, event.thread, failed))
        elif kind == "resubmit":
            waves.append((k, list(event.get("branches", []))))
        text = _note(event)
        if text is not None:
            notes.setdefault(k, []).append(text)
    if holder:
        spans.append(Span(held_from, n, holder, holder))
    for call, start in refresh_open.items():
        refreshes.append(Span(start, n, f"refresh #{call} (never returned)"))

    lock_after: list[str] = []
    heap_after: list[tuple[str, ...]] = []
    current_lock, current_heap = "", ()
    for i in range(n):
        if i in lock_changes:
            current_lock = lock_changes[i]
        if i in heap_changes:
            current_heap = tuple(f"b{b}@{t:g}" for t, b in sorted(heap_changes[i].values()))
        lock_after.append(current_lock)
        heap_after.append(current_heap)
    return Story(
        steps=steps,
        threads=outcome.trace.threads(),
        where=where,
        lock=lock_after,
        heap=heap_after,
        notes=notes,
        lock_spans=sorted(spans, key=lambda s: s.start),
        refreshes=sorted(refreshes, key=lambda s: s.start),
        waves=waves,
        lock_label=lock_label,
    )


def _changes(st: Story, i: int) -> list[str]:
    """The state cells of row `i`: only what changed at that step, then the event notes."""
    out = []
    step = st.steps[i]
    before = st.lock[i - 1] if i > 0 else ""
    if step.op == "acquire" and step.obj == st.lock_label and before and st.lock[i] == before:
        out.append(f"waits: held by {'itself' if before == step.thread else before}")
    if (i == 0 and st.lock[i]) or (i > 0 and st.lock[i] != st.lock[i - 1]):
        out.append(f"lock: {st.lock[i] or 'free'}")
    if (i == 0 and st.heap[i]) or (i > 0 and st.heap[i] != st.heap[i - 1]):
        out.append(f"heap: [{', '.join(st.heap[i])}]")
    out.extend(st.notes.get(i, ()))
    return out


# --------------------------------------------------------------------------- text

MAX_PERIOD = 12  # longest repeating block of steps that is folded into one line
MIN_REPEATS = 3  # a block must occur this often in a row to be folded


def _signature(st: Story, i: int) -> tuple[Any, ...]:
    s = st.steps[i]
    state = re.sub(r"\d+(\.\d+)?", "#", "; ".join(st.notes.get(i, ())))
    lock_change = i > 0 and st.lock[i] != st.lock[i - 1]
    heap_change = i > 0 and st.heap[i] != st.heap[i - 1]
    return (s.tid, s.op, s.obj, st.where[i], s.preempted, state, lock_change, heap_change)


def fold(st: Story, upto: int) -> list[tuple[int, int, int]]:
    """Display items for steps 0..upto: (start, end, period); period 0 is a single row.

    Periodic polling (the timer waking every 0.1 s, a branch retrying) would otherwise fill the
    whole window; a run of >= MIN_REPEATS identical blocks is shown once and then counted.
    The step `upto` itself is never folded away.
    """
    sig = [_signature(st, i) for i in range(upto + 1)]
    items: list[tuple[int, int, int]] = []
    i = 0
    while i <= upto:
        best: tuple[int, int] | None = None
        for p in range(1, MAX_PERIOD + 1):
            k = 1
            while i + (k + 1) * p <= upto and sig[i + k * p : i + (k + 1) * p] == sig[i : i + p]:
                k += 1
            if k >= MIN_REPEATS and (best is None or k * p > best[0] * best[1]):
                best = (p, k)
        if best is None:
            items.append((i, i + 1, 0))
            i += 1
            continue
        p, k = best
        items.extend((j, j + 1, 0) for j in range(i, i + p))
        items.append((i + p, i + k * p, p))
        i += k * p
    return items


def render_text(
    st: Story,
    *,
    highlight: int,
    title: str,
    explanation: str = "",
    context: int = 40,
    width: int = 100,
) -> str:
    """One column per thread, the SDK line each step ran, and state where it changes.

    `>>` marks a preemption (the scheduler switched away right after that step), `!!` the step
    at which the invariant broke; below it, the invariant's own explanation.
    """
    if not st.steps:
        return "  (empty trace)"
    highlight = min(max(highlight, 0), len(st.steps) - 1)
    cols = st.threads
    index = {tid: c for c, (tid, _) in enumerate(cols)}
    w = max(14, min(24, 110 // max(len(cols), 1)))
    src_w = 58
    head = f"{'step':>5} {'t':>7}    " + " | ".join(f"{name[:w]:<{w}}" for _, name in cols)
    head += f" | {'sdk line':<{src_w}} | state"
    lines = [head, "-" * min(len(head) + 12, 220)]
    items = fold(st, highlight)
    shown = items[-context:]
    first = shown[0][0]
    if first > 0:
        held = f"lock: {st.lock[first - 1] or 'free'}; heap: [{', '.join(st.heap[first - 1])}]"
        lines.append(f"  ... steps 0-{first - 1} not shown; after step {first - 1}: {held}")
    for start, end, period in shown:
        if period:
            t0, t1 = st.steps[start].time, st.steps[end - 1].time
            times = f" (t {t0:.3f} -> {t1:.3f})" if t1 != t0 else ""
            lines.append(
                f"  ... steps {start}-{end - 1} repeat steps {start - period}-{start - 1} "
                f"{(end - start) // period} more times{times}"
            )
            continue
        s = st.steps[start]
        cells = [" " * w] * len(cols)
        cells[index[s.tid]] = f"{st.op_text(s)[:w]:<{w}}"
        mark = "!!" if start == highlight else (">>" if s.preempted else "  ")
        place = st.place(start)
        src = f"{place:<17} {st.code(start)}" if place else ""
        state = "; ".join(_changes(st, start))
        row = f"{start:>5} {s.time:>7.3f} {mark} " + " | ".join(cells)
        row += f" | {src[:src_w]:<{src_w}} | {state}"
        lines.append(row.rstrip(" |") if not state else row)
    pad = " " * 17
    lines.append(f"{'!!':>16} {title}")
    if explanation:
        lines.extend(textwrap.wrap(explanation, width, initial_indent=pad, subsequent_indent=pad))
    return "\n".join(lines)


# --------------------------------------------------------------------------- HTML

LABEL_W = 120  # the column holding the lane names
PLOT_PAD = 6  # room left of the first step
PLOT_W = 1180  # pixels the steps share when they fit (a 1400 px window shows them all)
MAX_DRAWN = 1500  # steps drawn at most: a window ending shortly after the violation
LANE_H = 30
INFO_H = 24


STYLE = "\n".join(
    (
        "body { font: 13px/1.4 sans-serif; margin: 12px 16px; color: #111; background: #fff; }",
        "h1 { font-size: 16px; margin: 0 0 4px 0; }",
        f".why {{ border-left: 4px solid {VIOLATION_COLOR}; padding: 2px 10px; margin: 6px 0; }}",
        ".sub { color: #444; margin: 2px 0; max-width: 1340px; }",
        ".lanes { display: flex; border: 1px solid #ddd; margin: 8px 0; }",
        ".plot { overflow-x: auto; flex: 1; }",
        ".key { margin-right: 14px; white-space: nowrap; }",
        ".key i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }",
        ".key i { opacity: .6; }",
        "pre { font-size: 11px; background: #fafafa; border: 1px solid #eee; padding: 8px; }",
        "pre { overflow-x: auto; }",
    )
)


def _esc(text: object) -> str:
    """HTML-escape, and break every `://` so nothing in the file can be (or become) a link."""
    return html.escape(str(text), quote=True).replace("://", ":&#47;&#47;")


def _wrap_title(text: str) -> str:
    return f"<title>{_esc(text)}</title>"


def timeline_html(
    st: Story,
    *,
    highlight: int,
    heading: str,
    explanation: str,
    subtitle: str = "",
    context: int = 40,
) -> str:
    """A self-contained page: inline SVG swimlanes (no script, no external resource)."""
    n = len(st.steps)
    highlight = min(max(highlight, 0), max(n - 1, 0))
    lo = max(0, min(highlight + 50, n) - MAX_DRAWN)
    hi = min(n, lo + MAX_DRAWN)
    count = max(hi - lo, 1)
    px = max(3.0, min(14.0, PLOT_W / count))
    lanes = [name for _, name in st.threads]
    lane_y = {name: 52 + i * LANE_H for i, name in enumerate(lanes)}
    info_top = 52 + len(lanes) * LANE_H + 8
    lock_y, heap_y, refresh_y = info_top, info_top + INFO_H, info_top + 2 * INFO_H
    wave_y = refresh_y + INFO_H
    bottom = wave_y + INFO_H
    height = bottom + 12
    width = int(PLOT_PAD + count * px + 30)
    # Wider than the window: open scrolled to the right end, where the violation is (no script).
    scroll = ' style="direction: rtl"' if count * px > PLOT_W else ""
    color = {name: THREAD_COLORS[i % len(THREAD_COLORS)] for i, name in enumerate(lanes)}

    def x(i: int) -> float:
        return PLOT_PAD + (i - lo) * px

    # Two pictures side by side: the lane names stay put while the plot scrolls.
    names: list[str] = [
        f'<svg width="{LABEL_W}" height="{height}" font-family="monospace" font-size="11">',
        '<text x="6" y="30" fill="#555">virtual t</text>',
    ]
    svg: list[str] = [
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="monospace" font-size="11" role="img">'
    ]
    # lane backgrounds and names
    for i, name in enumerate(lanes):
        y = lane_y[name]
        fill = "#f4f4f4" if i % 2 == 0 else "#fbfbfb"
        for part, w in ((names, LABEL_W), (svg, width)):
            part.append(f'<rect x="0" y="{y}" width="{w}" height="{LANE_H}" fill="{fill}"/>')
        names.append(f'<text x="6" y="{y + 19}" fill="#222">{_esc(name)}</text>')
    info = ((lock_y, SCHEDULER_LOCK), (heap_y, "resume heap"), (refresh_y, "refresh"))
    for y, name in (*info, (wave_y, "waves")):
        for part, w in ((names, LABEL_W), (svg, width)):
            part.append(f'<rect x="0" y="{y}" width="{w}" height="{INFO_H}" fill="#fdfdf6"/>')
        names.append(f'<text x="6" y="{y + 16}" fill="#555">{_esc(name)}</text>')
    names.append("</svg>")
    # virtual time ticks: one at every step where the clock moved, a label where there is room
    last_label = -1e9
    for i in range(lo, hi):
        if i == lo or st.steps[i].time != st.steps[i - 1].time:
            xi = x(i)
            svg.append(
                f'<line x1="{xi:.1f}" y1="34" x2="{xi:.1f}" y2="{info_top - 8}" '
                'stroke="#d0d0d0" stroke-width="1"/>'
            )
            if xi - last_label >= 56:
                svg.append(
                    f'<text x="{xi + 2:.1f}" y="30" fill="#333">{st.steps[i].time:g}s</text>'
                )
                last_label = xi
    # waves: a dashed line across the thread lanes where the timer hands a wave to resubmit
    for k, branches in st.waves:
        if lo <= k < hi:
            xk = x(k) + px
            svg.append(
                f'<line x1="{xk:.1f}" y1="44" x2="{xk:.1f}" y2="{bottom}" '
                f'stroke="{WAVE_COLOR}" stroke-width="1.5" stroke-dasharray="4 3">'
                f"{_wrap_title(f'wave after step {k}: branches {branches} resubmitted')}</line>"
            )
            label = f"wave {branches}"
            end = xk + 3 + 7 * len(label) > width
            svg.append(
                f'<text x="{xk - 3 if end else xk + 3:.1f}" y="{wave_y + 16}" fill="{WAVE_COLOR}" '
                f'text-anchor="{"end" if end else "start"}">'
                f"{_esc(label)}</text>"
            )
    # steps
    for i in range(lo, hi):
        s = st.steps[i]
        y = lane_y[s.thread] if s.thread in lane_y else lane_y[lanes[0]]
        idle = s.op in IDLE_OPS
        tip = f"step {i}  t={s.time:g}  {s.thread}: {st.op_text(s)}"
        if st.place(i):
            tip += f"\n{st.place(i)}  {st.code(i)}"
        changes = _changes(st, i)
        if changes:
            tip += "\n" + "; ".join(changes)
        opacity = ' fill-opacity="0.35"' if idle else ""
        svg.append(
            f'<rect x="{x(i):.1f}" y="{y + 7}" width="{max(px - 1, 1):.1f}" height="16" '
            f'fill="{color[s.thread]}"{opacity}>{_wrap_title(tip)}</rect>'
        )
        if s.preempted:
            cx = x(i) + px - 0.5
            svg.append(
                f'<path d="M{cx - 4:.1f} {y + 1} L{cx + 4:.1f} {y + 1} L{cx:.1f} {y + 7} Z" '
                f'fill="#000">{_wrap_title(f"preempted after step {i}")}</path>'
            )
    # the scheduler lock: who holds it
    for span in st.lock_spans:
        a, b = max(span.start, lo), min(span.end, hi)
        if b <= a:
            continue
        w = (b - a) * px
        svg.append(
            f'<rect x="{x(a):.1f}" y="{lock_y + 4}" width="{w:.1f}" height="{INFO_H - 8}" '
            f'fill="{color.get(span.thread, "#999")}" fill-opacity="0.55">'
            f"{_wrap_title(f'{span.thread} holds {SCHEDULER_LOCK}, steps {span.start}-{span.end}')}"
            "</rect>"
        )
        if w >= 8 * len(span.thread) + 4:
            svg.append(
                f'<text x="{x(a) + 3:.1f}" y="{lock_y + 16}" fill="#111">{_esc(span.thread)}</text>'
            )
    # the resume heap: its contents between changes
    i = lo
    while i < hi:
        j = i
        while j + 1 < hi and st.heap[j + 1] == st.heap[i]:
            j += 1
        if st.heap[i]:
            content = ", ".join(st.heap[i])
            w = (j + 1 - i) * px
            svg.append(
                f'<rect x="{x(i):.1f}" y="{heap_y + 4}" width="{w:.1f}" height="{INFO_H - 8}" '
                f'fill="{HEAP_COLOR}">{_wrap_title(f"heap after step {i}: [{content}]")}</rect>'
            )
            if w >= 7 * len(content) + 4:
                svg.append(
                    f'<text x="{x(i) + 3:.1f}" y="{heap_y + 16}" fill="#123">{_esc(content)}</text>'
                )
        i = j + 1
    # refreshes
    for span in st.refreshes:
        a, b = max(span.start, lo), min(span.end, hi)
        if b <= a:
            continue
        w = max((b - a) * px, 3)
        fill = REFRESH_FAIL_COLOR if span.failed else REFRESH_COLOR
        svg.append(
            f'<rect x="{x(a):.1f}" y="{refresh_y + 4}" width="{w:.1f}" height="{INFO_H - 8}" '
            f'fill="{fill}">{_wrap_title(f"{span.label}, steps {span.start}-{span.end}")}</rect>'
        )
        # The label goes inside the box, else after it in its colour, else before it.
        text_w = 7 * len(span.label)
        if w >= text_w:
            tx, anchor, ink = x(a) + 3, "start", "#fff"
        elif x(a) + w + 3 + text_w <= width:
            tx, anchor, ink = x(a) + w + 3, "start", fill
        else:
            tx, anchor, ink = x(a) - 3, "end", fill
        svg.append(
            f'<text x="{tx:.1f}" y="{refresh_y + 16}" fill="{ink}" text-anchor="{anchor}">'
            f"{_esc(span.label)}</text>"
        )
    # the violation
    if n:
        xv = x(highlight) + px / 2
        vs = st.steps[highlight]
        svg.append(
            f'<rect x="{x(highlight) - 1.5:.1f}" y="{lane_y.get(vs.thread, 52) + 5}" '
            f'width="{px + 2:.1f}" height="20" fill="none" stroke="{VIOLATION_COLOR}" '
            'stroke-width="2"/>'
        )
        svg.append(
            f'<line x1="{xv:.1f}" y1="38" x2="{xv:.1f}" y2="{bottom}" '
            f'stroke="{VIOLATION_COLOR}" stroke-width="3">{_wrap_title(heading)}</line>'
        )
        anchor = "end" if xv > width - 260 else "start"
        tx = xv - 6 if anchor == "end" else xv + 6
        svg.append(
            f'<text x="{tx:.1f}" y="46" fill="{VIOLATION_COLOR}" font-weight="bold" '
            f'text-anchor="{anchor}">{_esc(heading.split(":")[0])} (step {highlight})</text>'
        )
    svg.append("</svg>")

    legend = "".join(
        f'<span class="key"><i style="background:{color[name]}"></i>{_esc(name)}</span>'
        for name in lanes
    )
    window = render_text(
        st, highlight=highlight, title=heading, explanation=explanation, context=context
    )
    drawn = "" if (lo, hi) == (0, n) else f" Steps {lo}-{hi - 1} of {n} are drawn."
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{_esc(heading)}</title>
<style>
{STYLE}</style></head>
<body>
<h1>{_esc(heading)}</h1>
<div class="why">{_esc(explanation)}</div>
<div class="sub">{_esc(subtitle)}</div>
<div class="sub">One lane per thread, one box per scheduling point laid out by step (time often
stands still while threads race); the ticks mark where virtual time moved. Faded boxes are waits,
a black triangle a preemption, the red line the step where the invariant broke.{drawn}
Hover a box for its SDK line.</div>
<div class="lanes"><div>{"".join(names)}</div><div class="plot"{scroll}>
<div style="direction: ltr; width: {width}px">{"".join(svg)}</div></div></div>
<div class="sub">{legend}<span class="key">lock held: lane colour of the holder</span>
<span class="key">heap: pending resumes b&lt;branch&gt;@&lt;due time&gt;</span></div>
<pre>{_esc(window)}</pre>
</body></html>
"""


def write_timeline(
    path: str | os.PathLike[str],
    outcome: Outcome,
    run: ExecutorRun,
    violation: Violation | None,
) -> Path:
    """Write the swimlane picture of a run (with its violation marked) as one HTML file."""
    st = story(outcome, run)
    if violation is not None:
        at = run.recorder.steps
        seq = violation.seq
        step = at[seq] if 0 <= seq < len(at) else len(outcome.trace.steps) - 1
        heading = f"VIOLATION {violation.invariant}: {violation.summary}"
        explanation = violation.explanation
    else:
        step = len(outcome.trace.steps) - 1
        heading = "no violation"
        explanation = "The run broke no invariant; its last step is marked."
    subtitle = (
        f"sdk {run.sdk.target.version}; scenario: {describe(run.scenario)}; run {outcome.status} "
        f"({outcome.reason}); steps={outcome.steps} preemptions={outcome.preemptions}"
    )
    page = timeline_html(
        st, highlight=step, heading=heading, explanation=explanation, subtitle=subtitle
    )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, target)
    return target
