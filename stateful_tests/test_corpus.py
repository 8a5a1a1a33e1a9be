"""The repository's corpus of shrunk counterexamples, replayed on every supported version.

Each file's expected outcome per version ("reproduces" or "gone") is recorded in
corpus/expected/outcomes.json from real replays; a change in the SDK, the runtime or an invariant
that flips one fails here, with the trace, until it is understood.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr
from pathlib import Path

import pytest

from stateful_tests.replay import replay_file

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, str]] = json.loads(
    (CORPUS / "expected" / "outcomes.json").read_text()
)
CASES = [(name, version) for name in sorted(EXPECTED) for version in sorted(EXPECTED[name])]


def test_every_corpus_file_has_an_expectation() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize(("name", "version"), CASES)
def test_corpus_replays_as_recorded(name: str, version: str) -> None:
    out = io.StringIO()
    with redirect_stderr(io.StringIO()):
        code = replay_file(str(CORPUS / name), version, out=out)
    outcome = "reproduces" if code == 1 else "gone"
    assert outcome == EXPECTED[name][version], out.getvalue()[-4000:]
