"""What a reviewer reads: the violation block, the trace around it, and the replay payload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from interleavings.execution import Outcome
from interleavings.replay import ReplayFile, save
from invariants import BY_NAME, Violation
from scheduler.adapter_v1 import ExecutorRun
from scheduler.scenario import Scenario, describe
from stateful_tests.timeline import render_text, story, write_timeline

CONTEXT_STEPS = 40  # trace rows shown up to the violating step


def violation_step(run: ExecutorRun, outcome: Outcome, violation: Violation) -> int:
    steps = run.recorder.steps
    seq = violation.seq
    return steps[seq] if 0 <= seq < len(steps) else len(outcome.trace.steps) - 1


def render_trace(
    outcome: Outcome,
    step: int,
    invariant: str,
    context: int = CONTEXT_STEPS,
    *,
    run: ExecutorRun | None = None,
    explanation: str = "",
) -> str:
    # --- readable trace (timeline.py): SDK lines, lock holder, heap, folded polling -----------
    if run is not None:
        return render_text(
            story(outcome, run),
            highlight=step,
            title=f"{invariant} breaks here" if explanation else invariant,
            explanation=explanation,
            context=context,
        )
    # --- end readable trace ------------------------------------------------------------------
    return outcome.trace.render(
        highlight=step,
        notes={step: f"{invariant} breaks here"},
        start=max(0, step - context + 1),
        end=step + 1,
    )


def block(
    violation: Violation,
    scenario: Scenario,
    run: ExecutorRun,
    outcome: Outcome,
    replay_path: Path | None,
) -> str:
    """The block `check` prints per violated invariant; its first line is fixed by design.md."""
    step = violation_step(run, outcome, violation)
    lines = [
        f"VIOLATION {violation.invariant}: {violation.summary}",
        f"  scenario: {describe(scenario)}",
        f"  run: {outcome.status} ({outcome.reason}); steps={outcome.steps} "
        f"preemptions={outcome.preemptions}; breaks at step {step} (event {violation.seq})",
        "  threads at the end: " + "; ".join(outcome.threads),
        render_trace(
            outcome, step, violation.invariant, run=run, explanation=violation.explanation
        ),
    ]
    if replay_path is not None:
        # --- timeline picture (timeline.py), written beside the replay file ------------------
        html_path = Path(replay_path).with_suffix(".html")
        try:
            write_timeline(html_path, outcome, run, violation)
            lines.append(f"timeline: {html_path}")
        except OSError as exc:
            lines.append(f"timeline: not written ({exc})")
        # --- end timeline picture ----------------------------------------------------------
        lines.append(f"replay: {replay_path}")
    return "\n".join(lines)


def replay_payload(
    sdk: Any,
    scenario: Scenario,
    violation: Violation,
    outcome: Outcome,
    run: ExecutorRun,
    *,
    granularity: str,
    max_steps: int,
) -> dict[str, Any]:
    return {
        "level": "executor",
        "sdk": sdk.target.version,
        "source_hash": sdk.target.source_hash,
        "granularity": granularity,
        "max_steps": max_steps,
        "scenario": scenario.to_json(),
        "invariant": violation.invariant,
        "summary": violation.summary,
        "seq": violation.seq,
        "step": violation_step(run, outcome, violation),
        "steps": outcome.steps,
        "preemptions": outcome.preemptions,
        "fingerprint": outcome.trace.fingerprint(),
    }


def write_replay(path: Path, choices: list[int], payload: dict[str, Any]) -> Path:
    return save(ReplayFile(choices=list(choices), payload=payload), path)


def invariant_doc(name: str) -> str:
    return BY_NAME[name].doc.splitlines()[0] if name in BY_NAME else ""
