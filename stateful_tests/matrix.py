"""Print the verdict table (SDK version x invariant) from the JSON files `check --json` wrote."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from invariants import CATALOG


def table(results: list[dict]) -> str:
    cols = [f"{r['python']}/{r['sdk']}" for r in results]
    width = max(len(c) for c in cols) if cols else 8
    name_w = max(len(inv.name) for inv in CATALOG)
    lines = [f"{'invariant':<{name_w}} | " + " | ".join(f"{c:^{width}}" for c in cols)]
    lines.append("-" * len(lines[0]))
    for inv in CATALOG:
        cells = []
        for r in results:
            hit = inv.name in {v["invariant"] for v in r["violations"]}
            cells.append(f"{'FAIL' if hit else 'ok':^{width}}")
        lines.append(f"{inv.name:<{name_w}} | " + " | ".join(cells))
    lines.append(
        f"{'verdict':<{name_w}} | " + " | ".join(f"{r['verdict']:^{width}}" for r in results)
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0] if args else ".nox/matrix-results")
    results = []
    for path in sorted(directory.glob("py*-sdk*.json")):
        data = json.loads(path.read_text())
        data["python"] = path.name.split("-sdk")[0].removeprefix("py")
        results.append(data)
    if not results:
        print(f"matrix: error: no check results in {directory}", file=sys.stderr)
        return 2
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
