"""`nox -s throughput`: the issue's map in virtual time on a target SDK, across invocations.

    python -m stateful_tests.throughput [--sdk SPEC] [--branches N] [--polls P] [--delay S]
        [--keeper S] [--rtt S] [--function-timeout S] [--attempt-cost S] [--reinvoke-delay S]
        [--max-invocations N] [--json FILE]
    python -m stateful_tests.throughput --plot FILE.svg [--plot-sdks 1.5.0,1.6.0,1.7.0]
        [--plot-branches 10,30,100,300,1000] [the workload options but --sdk, --branches]

Defaults are the issue's values and the calibrated costs (docs/throughput.md). A measurement
prints one line per invocation, whether the run kept the two invariants whose cost this is
(`no_refresh_under_lock`, `one_refresh_per_wave`), and as its LAST line
`throughput: sdk=<v> invocations=<n> timeouts=<t> virtual_wall_s=<s> refreshes=<r>
resumes=<m> completed=<yes|no> seconds=<real s>`. `--json FILE` writes the design's keys
(`invocations`, `timeouts`, `virtual_wall_s`, `refreshes`, `resumes`) and details; it holds
nothing from the real clock, so the same arguments write the same file.

`--plot` measures every SDK at every N and writes a self-contained SVG of the virtual
completion time against N (and, with `--json`, the measured rows). Exit 0 measured, 1 a run
ended in none of the modelled ways (a deadlock, a hang, a crash: the number would mean
nothing), 2 unusable input.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from html import escape
from pathlib import Path
from typing import Any

from invariants import BY_NAME
from scheduler.record import Record
from scheduler.throughput import ISSUE_BRANCHES, Measurement, Workload, measure
from stateful_tests.cli import Parser, json_ready, load_sdk, positive_int

PROG = "throughput"
# The invariants whose violation this measurement prices (docs/throughput.md).
PRICED = ("no_refresh_under_lock", "one_refresh_per_wave")
PLOT_SDKS = ("1.5.0", "1.6.0", "1.7.0")
PLOT_BRANCHES = (10, 30, 100, 300, 1000)
# The issue's table (docs/throughput.md): wall seconds of the map at 300 pollers.
ISSUE_OBSERVED = (("1.5.0", 300, 222.0), ("1.6.0", 300, 38.0))


def seconds(text: str) -> float:
    """A finite number of seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0: {text}")
    return value


def positive_seconds(text: str) -> float:
    """A finite number of seconds > 0 (a function timeout of 0 runs nothing)."""
    value = seconds(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text}")
    return value


def at_least_one(text: str) -> int:
    value = positive_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {text}")
    return value


def _listed(convert: Callable[[str], Any]) -> Callable[[str], tuple[Any, ...]]:
    def parse(text: str) -> tuple[Any, ...]:
        items = tuple(convert(item.strip()) for item in text.split(",") if item.strip())
        if not items:
            raise argparse.ArgumentTypeError("needs at least one comma-separated value")
        return items

    return parse


def _parser() -> Parser:
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0])
    defaults = Workload()
    parser.add_argument("--sdk", default=None, help="version, wheel, package dir or checkout")
    parser.add_argument("--branches", type=positive_int, default=None, help="pollers (300)")
    parser.add_argument("--polls", type=positive_int, default=defaults.polls)
    parser.add_argument("--delay", type=seconds, default=defaults.delay, help="between polls")
    parser.add_argument("--keeper", type=seconds, default=defaults.keeper)
    parser.add_argument("--rtt", type=seconds, default=defaults.rtt, help="per refresh call")
    parser.add_argument(
        "--function-timeout", type=positive_seconds, default=defaults.function_timeout
    )
    parser.add_argument(
        "--attempt-cost",
        type=seconds,
        default=defaults.attempt_cost,
        help="serialised work of each checkpointing branch attempt",
    )
    parser.add_argument("--reinvoke-delay", type=seconds, default=defaults.reinvoke_delay)
    parser.add_argument("--max-invocations", type=at_least_one, default=defaults.max_invocations)
    parser.add_argument("--json", dest="json_file", default=None, help="write the result here")
    parser.add_argument("--plot", default=None, help="write an SVG of time against N here")
    parser.add_argument("--plot-sdks", type=_listed(str), default=PLOT_SDKS)
    parser.add_argument("--plot-branches", type=_listed(at_least_one), default=PLOT_BRANCHES)
    return parser


def _writable(parser: Parser, option: str, path: str | None) -> None:
    if path is not None and not Path(path).resolve().parent.is_dir():
        parser.error(f"{option}: directory does not exist: {Path(path).resolve().parent}")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _writable(parser, "--json", args.json_file)
    _writable(parser, "--plot", args.plot)
    if args.plot is not None and (args.sdk is not None or args.branches is not None):
        parser.error("--plot sweeps --plot-sdks and --plot-branches; drop --sdk and --branches")
    try:
        work = Workload(
            branches=ISSUE_BRANCHES if args.branches is None else args.branches,
            polls=args.polls,
            delay=args.delay,
            keeper=args.keeper,
            rtt=args.rtt,
            attempt_cost=args.attempt_cost,
            function_timeout=args.function_timeout,
            reinvoke_delay=args.reinvoke_delay,
            max_invocations=args.max_invocations,
        )
    except ValueError as exc:
        parser.error(str(exc))
    if args.plot is not None:
        return _plot(args, work)
    return _measure_one(args, work)


def _measure_one(args: argparse.Namespace, work: Workload) -> int:
    sdk = load_sdk(PROG, args.sdk)
    started = time.perf_counter()
    result = measure(sdk, work)
    elapsed = time.perf_counter() - started
    for invocation in result.invocations:
        print(
            f"invocation {invocation.number}: {invocation.start:.3f}s .. {invocation.end:.3f}s"
            f" {invocation.ending} refreshes={invocation.refreshes}"
            f" resumes={invocation.resumes} checks={invocation.checks}"
            + (f" ({invocation.detail})" if invocation.detail else "")
        )
    verdicts = priced_invariants(result.records)
    for name, verdict in verdicts.items():
        if verdict is None:
            print(f"invariant {name}: held")
        else:
            print(
                f"invariant {name}: VIOLATED in invocation {verdict['invocation']}: "
                f"{verdict['summary']}"
            )
    if args.json_file is not None:
        data = result.to_json()
        data["invariants"] = verdicts
        Path(args.json_file).write_text(json.dumps(json_ready(data), indent=1) + "\n")
    print(summary_line(result, elapsed))
    return 1 if result.failure is not None else 0


def summary_line(result: Measurement, elapsed: float) -> str:
    """The LAST line of a measurement: the design's five figures, and the real seconds."""
    return (
        f"{PROG}: sdk={result.sdk} invocations={len(result.invocations)}"
        f" timeouts={result.timeouts} virtual_wall_s={result.virtual_wall_s:.3f}"
        f" refreshes={result.refreshes} resumes={result.resumes}"
        f" completed={'yes' if result.completed else 'no'} seconds={elapsed:.2f}"
    )


def priced_invariants(records: Sequence[Record]) -> dict[str, dict[str, Any] | None]:
    """For each invariant this measurement prices: None when every invocation kept it, else
    the first invocation that broke it and the invariant's own one-line summary."""
    verdicts: dict[str, dict[str, Any] | None] = {}
    for name in PRICED:
        verdicts[name] = None
        for number, record in enumerate(records, start=1):
            violation = BY_NAME[name].check(record)
            if violation is not None:
                verdicts[name] = {"invocation": number, "summary": violation.summary}
                break
    return verdicts


# ---------------------------------------------------------------------------------------------
# the plot


def _plot(args: argparse.Namespace, work: Workload) -> int:
    rows: list[dict[str, Any]] = []
    failed = False
    began = time.perf_counter()
    for spec in args.plot_sdks:
        sdk = load_sdk(PROG, spec)
        for branches in args.plot_branches:
            point = Workload(**{**asdict(work), "branches": branches})
            started = time.perf_counter()
            result = measure(sdk, point)
            elapsed = time.perf_counter() - started
            failed = failed or result.failure is not None
            row = {key: result.to_json()[key] for key in _ROW_KEYS}
            row["branches"] = branches
            rows.append(row)
            print(summary_line(result, elapsed).replace(f"{PROG}:", f"{PROG}: N={branches}"))
    Path(args.plot).write_text(render_svg(rows, work), encoding="utf-8")
    if args.json_file is not None:
        data = {"workload": {**asdict(work), "branches": None}, "rows": rows}
        Path(args.json_file).write_text(json.dumps(json_ready(data), indent=1) + "\n")
    total = time.perf_counter() - began
    print(f"{PROG}: wrote {args.plot} ({len(rows)} measurements, seconds={total:.1f})")
    return 1 if failed else 0


_ROW_KEYS = (
    "sdk",
    "invocations",
    "timeouts",
    "virtual_wall_s",
    "refreshes",
    "resumes",
    "completed",
)

# One colour, dash and marker per SDK; 1.7.0 is dashed so it shows over 1.6.0 (same timer).
_STYLES = (
    ("#c0392b", "", "circle"),
    ("#1f5fa8", "", "square"),
    ("#27ae60", "7 5", "triangle"),
    ("#8e44ad", "2 4", "diamond"),
    ("#d68910", "10 3 2 3", "circle"),
)

_W, _H = 820, 520
_LEFT, _RIGHT, _TOP, _BOTTOM = 78, 190, 78, 64


def _nice_ticks(low: float, high: float) -> list[float]:
    """1-2-5 ticks covering [low, high] on a log axis."""
    ticks: list[float] = []
    decade = 10.0 ** math.floor(math.log10(low))
    while decade <= high * 10:
        for m in (1, 2, 5):
            value = m * decade
            if low <= value <= high:
                ticks.append(value)
        decade *= 10
    return ticks


def _fmt(value: float) -> str:
    return f"{value:g}"


def _is_issue_shape(work: Workload) -> bool:
    """The issue's measurements are a reference only for the issue's own map and timeout."""
    issue = Workload()
    return (work.polls, work.delay, work.keeper, work.function_timeout) == (
        issue.polls,
        issue.delay,
        issue.keeper,
        issue.function_timeout,
    )


def render_svg(
    rows: Sequence[dict[str, Any]],
    work: Workload,
    observed: Sequence[tuple[str, int, float]] = ISSUE_OBSERVED,
) -> str:
    """A log-log chart of virtual completion time against N, one line per SDK, as SVG text.

    Self-contained (no scripts, fonts or links), deterministic (same rows, same bytes), and
    readable without colour: each SDK also has its own dash pattern and marker, and every
    point that needed more than one invocation is labelled `invocations/timeouts`. For the
    issue's map, `observed` (sdk, N, wall seconds) is drawn as rings: what the issue measured.
    """
    sdks = list(dict.fromkeys(row["sdk"] for row in rows))
    ns = sorted({int(row["branches"]) for row in rows})
    marks = [m for m in observed if m[0] in sdks] if _is_issue_shape(work) else []
    times = [float(row["virtual_wall_s"]) for row in rows] + [work.ideal_s or 1.0]
    times += [m[2] for m in marks]
    y_low = 10.0 ** math.floor(math.log10(max(min(times), 1e-3)))
    y_high = next(t for t in _nice_ticks(y_low, max(times) * 100) if t >= max(times) * 1.1)
    x_low, x_high = ns[0] / 1.25, ns[-1] * 1.25
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def x(n: float) -> float:
        span = math.log10(x_high) - math.log10(x_low)
        return _LEFT + (math.log10(n) - math.log10(x_low)) / span * plot_w if span else _LEFT

    def y(t: float) -> float:
        span = math.log10(y_high) - math.log10(y_low)
        return _TOP + plot_h - (math.log10(max(t, y_low)) - math.log10(y_low)) / span * plot_h

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}"'
        f' viewBox="0 0 {_W} {_H}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
        f'<rect width="{_W}" height="{_H}" fill="white"/>',
        f'<text x="{_LEFT}" y="26" font-size="16" font-weight="bold">Virtual completion time'
        " of the issue's map against the number of pollers</text>",
        f'<text x="{_LEFT}" y="46" fill="#444">'
        + escape(
            f"{work.polls} polls every {_fmt(work.delay)} s, {_fmt(work.keeper)} s keeper,"
            f" refresh {_fmt(work.rtt * 1000)} ms, attempt cost {_fmt(work.attempt_cost * 1000)}"
            f" ms (serialised), function timeout {_fmt(work.function_timeout)} s;"
            " real SDK code, virtual time"
        )
        + "</text>",
        f'<text x="{_LEFT}" y="62" fill="#444">labels: invocations/timeouts where more than one'
        " invocation was needed</text>",
    ]
    # grid and axes
    for tick in _nice_ticks(y_low, y_high):
        ty = y(tick)
        out.append(
            f'<line x1="{_LEFT}" y1="{ty:.1f}" x2="{_LEFT + plot_w}" y2="{ty:.1f}"'
            ' stroke="#e3e3e3"/>'
        )
        out.append(f'<text x="{_LEFT - 8}" y="{ty + 4:.1f}" text-anchor="end">{_fmt(tick)}</text>')
    for n in ns:
        tx = x(n)
        out.append(
            f'<line x1="{tx:.1f}" y1="{_TOP}" x2="{tx:.1f}" y2="{_TOP + plot_h}" stroke="#eeeeee"/>'
        )
        out.append(f'<text x="{tx:.1f}" y="{_TOP + plot_h + 18}" text-anchor="middle">{n}</text>')
    out.append(
        f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" fill="none"'
        ' stroke="#555"/>'
    )
    out.append(
        f'<text x="{_LEFT + plot_w / 2:.1f}" y="{_H - 18}" text-anchor="middle">'
        "pollers N (log scale)</text>"
    )
    out.append(
        f'<text transform="translate(20 {_TOP + plot_h / 2:.1f}) rotate(-90)"'
        ' text-anchor="middle">virtual seconds until the map completes (log scale)</text>'
    )
    if work.ideal_s > 0:
        iy = y(work.ideal_s)
        out.append(
            f'<line x1="{_LEFT}" y1="{iy:.1f}" x2="{_LEFT + plot_w}" y2="{iy:.1f}"'
            ' stroke="#777" stroke-dasharray="3 3"/>'
        )
        out.append(
            f'<text x="{_LEFT + plot_w - 6}" y="{iy + 15:.1f}" fill="#555" text-anchor="end">'
            f"ideal {_fmt(work.ideal_s)} s</text>"
        )
    # series
    for index, sdk in enumerate(sdks):
        colour, dash, marker = _STYLES[index % len(_STYLES)]
        series = sorted((r for r in rows if r["sdk"] == sdk), key=lambda r: int(r["branches"]))
        points = [(x(int(r["branches"])), y(float(r["virtual_wall_s"])), r) for r in series]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in points)
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash_attr}/>'
        )
        for px, py, row in points:
            out.append(_marker(marker, px, py, colour))
            if int(row["invocations"]) > 1 or not row["completed"]:
                label = f"{row['invocations']}/{row['timeouts']}"
                if not row["completed"]:
                    label += " unfinished"
                offset = -9 if index % 2 == 0 else 17
                out.append(
                    f'<text x="{px + 6:.1f}" y="{py + offset:.1f}" fill="{colour}"'
                    f' font-size="11">{label}</text>'
                )
        # legend
        ly = _TOP + 14 + index * 24
        lx = _LEFT + plot_w + 18
        out.append(
            f'<line x1="{lx}" y1="{ly}" x2="{lx + 34}" y2="{ly}" stroke="{colour}"'
            f' stroke-width="2"{dash_attr}/>'
        )
        out.append(_marker(marker, lx + 17, ly, colour))
        out.append(f'<text x="{lx + 42}" y="{ly + 4}">SDK {escape(str(sdk))}</text>')
    if marks:
        ly = _TOP + 14 + len(sdks) * 24
        lx = _LEFT + plot_w + 18
        for _, n, t in marks:
            out.append(_marker("ring", x(n), y(t), "#111"))
        out.append(_marker("ring", lx + 17, ly, "#111"))
        out.append(f'<text x="{lx + 42}" y="{ly + 4}">measured in</text>')
        out.append(f'<text x="{lx + 42}" y="{ly + 18}">issue 473</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _marker(kind: str, cx: float, cy: float, colour: str) -> str:
    if kind == "square":
        return f'<rect x="{cx - 4:.1f}" y="{cy - 4:.1f}" width="8" height="8" fill="{colour}"/>'
    if kind == "triangle":
        return (
            f'<polygon points="{cx:.1f},{cy - 5:.1f} {cx - 5:.1f},{cy + 4:.1f}'
            f' {cx + 5:.1f},{cy + 4:.1f}" fill="white" stroke="{colour}" stroke-width="1.5"/>'
        )
    if kind == "diamond":
        return (
            f'<polygon points="{cx:.1f},{cy - 5:.1f} {cx - 5:.1f},{cy:.1f} {cx:.1f},{cy + 5:.1f}'
            f' {cx + 5:.1f},{cy:.1f}" fill="{colour}"/>'
        )
    if kind == "ring":
        return (
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="7" fill="none" stroke="{colour}"'
            ' stroke-width="1.5"/>'
        )
    return f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="{colour}"/>'


if __name__ == "__main__":
    sys.exit(main())
