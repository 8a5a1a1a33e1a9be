"""`nox -s check`: the sign-off of one SDK target against the whole invariant catalog.

Output contract (../shared/design.md): per violated invariant a block starting
`VIOLATION <name>: <summary>`, the shrunk trace, `replay: <path>`; the LAST line
`check: sdk=<v> verdict=<PASS|FAIL> invariants=<n> violated=<m> executions=<k> seconds=<s>`.
Exit 0 PASS, 1 FAIL, 2 unusable input.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from invariants import CATALOG
from stateful_tests.cli import Parser, json_ready, load_sdk, positive_int
from stateful_tests.report import block, replay_payload, write_replay
from stateful_tests.signoff import BUDGETS, GRANULARITY, sign_off

PROG = "check"


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--sdk", default=None, help="version, wheel, package dir or checkout")
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="ci")
    parser.add_argument("--seed", type=positive_int, default=0)
    parser.add_argument("--json", dest="json_file", default=None, help="write the verdict here")
    parser.add_argument(
        "--out",
        default=os.environ.get("INTERLEAVINGS_FAILURES", "failures"),
        help="directory for replay files (default: failures/)",
    )
    args = parser.parse_args(argv)
    if args.json_file is not None:
        parent = Path(args.json_file).resolve().parent
        if not parent.is_dir():
            parser.error(f"--json: directory does not exist: {parent}")
    sdk = load_sdk(PROG, args.sdk)
    version = sdk.target.version
    budget = BUDGETS[args.budget]

    result = sign_off(sdk, budget=args.budget, seed=args.seed)
    violations = []
    for finding in result.findings:
        v = finding.violation
        path = Path(args.out) / version / f"{v.invariant}.json"
        payload = replay_payload(
            sdk,
            finding.scenario,
            v,
            finding.outcome,
            finding.run,
            granularity=GRANULARITY,
            max_steps=budget.max_steps,
        )
        write_replay(path, finding.choices, payload)
        print(block(v, finding.scenario, finding.run, finding.outcome, path))
        print()
        violations.append(
            {
                "invariant": v.invariant,
                "summary": v.summary,
                "replay": str(path),
                "steps": finding.outcome.steps,
                "preemptions": finding.outcome.preemptions,
            }
        )
    if args.json_file is not None:
        data = {
            "sdk": version,
            "verdict": result.verdict,
            "invariants": [inv.name for inv in CATALOG],
            "violations": violations,
            "executions": result.executions,
            "seconds": round(result.seconds, 2),
        }
        Path(args.json_file).write_text(json.dumps(json_ready(data), indent=1) + "\n")
    print(
        f"check: sdk={version} verdict={result.verdict} invariants={len(CATALOG)} "
        f"violated={len(result.findings)} executions={result.executions} "
        f"seconds={result.seconds:.1f}"
    )
    return 1 if result.findings else 0


if __name__ == "__main__":
    sys.exit(main())
