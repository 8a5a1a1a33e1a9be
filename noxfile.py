"""Every session users run. See README.md for what each one is for."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox


def _interpreter(version: str) -> str:
    """`version` when a working `pythonX.Y` is on PATH, else pyenv's interpreter of it: pyenv's
    shims answer only for the active version, and CI machines install 3.13 through pyenv."""
    try:
        subprocess.run([f"python{version}", "--version"], check=True, capture_output=True)
        return version
    except (OSError, subprocess.CalledProcessError):
        pass
    versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for candidate in sorted(versions.glob(f"{version}.*/bin/python{version}"), reverse=True):
        return str(candidate)
    return version


nox.options.reuse_venv = "yes"
nox.options.sessions = ["lint", "tests"]

ROOT = Path(__file__).parent
DEFAULT_PYTHON = "3.11"
SDK_VERSIONS = ("1.5.0", "1.6.0", "1.7.0")
MATRIX_DIR = ROOT / ".nox" / "matrix-results"


def _install(session: nox.Session, *extras: str) -> None:
    spec = "." if not extras else f".[{','.join(extras)}]"
    session.install("-e", spec)


def _prefetch(session: nox.Session, *versions: str) -> None:
    """Fill the SDK cache (.sdk-cache/) so no test downloads mid-run."""
    session.run("python", "-m", "scheduler.target", "fetch", *versions, silent=True)


@nox.session(python=DEFAULT_PYTHON)
def tests(session: nox.Session) -> None:
    """The whole pytest suite: runtime, adapter, invariants, self-tests on known defects."""
    _install(session)
    _prefetch(session, *SDK_VERSIONS)
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session(python=DEFAULT_PYTHON)
def check(session: nox.Session) -> None:
    """The sign-off: `nox -s check -- [--sdk SPEC] [--budget B] [--seed N] [--json FILE]`."""
    _install(session)
    # Exit 1 (FAIL) propagates: `nox -s check` fails exactly when the sign-off does.
    session.run("python", "-m", "stateful_tests.check", *session.posargs)


@nox.session(python=DEFAULT_PYTHON)
def replay(session: nox.Session) -> None:
    """Replay one counterexample: `nox -s replay -- FILE [--sdk SPEC]` (exit 1 = reproduces)."""
    _install(session)
    session.run("python", "-m", "stateful_tests.replay", *session.posargs)


@nox.session(python=[_interpreter("3.11"), _interpreter("3.13")])
def matrix(session: nox.Session) -> None:
    """`check` over SDK 1.5.0, 1.6.0, 1.7.0 on this Python; prints the verdict table so far."""
    _install(session)
    _prefetch(session, *SDK_VERSIONS)
    budget = session.posargs[0] if session.posargs else "quick"
    MATRIX_DIR.mkdir(parents=True, exist_ok=True)
    py = str(session.python).rsplit("python", 1)[-1]
    for version in SDK_VERSIONS:
        out = MATRIX_DIR / f"py{py}-sdk{version}.json"
        session.run(
            "python",
            "-m",
            "stateful_tests.check",
            "--sdk",
            version,
            "--budget",
            budget,
            "--json",
            str(out),
            success_codes=[0, 1],
            silent=True,
        )
    session.run("python", "-m", "stateful_tests.matrix", str(MATRIX_DIR))


@nox.session(python=DEFAULT_PYTHON)
def throughput(session: nox.Session) -> None:
    """The issue's map in virtual time: `nox -s throughput -- [--sdk SPEC] [--branches N]
    [--polls P] [--delay S] [--keeper S] [--rtt S] [--function-timeout S] [--json FILE]`;
    `-- --plot docs/throughput.svg` draws completion time against N for 1.5.0, 1.6.0, 1.7.0."""
    _install(session)
    session.run("python", "-m", "stateful_tests.throughput", *session.posargs)


@nox.session(python=DEFAULT_PYTHON)
def mutants(session: nox.Session) -> None:
    """Mutation testing of the scheduler: `nox -s mutants -- [--sdk SPEC] [--json FILE]`;
    last line `mutants: killed=<k> total=<n>` (docs/mutants.md)."""
    _install(session)
    _prefetch(session, *SDK_VERSIONS)
    session.run("python", "-m", "stateful_tests.mutation", *session.posargs)


STRESS_JSON = ROOT / ".nox" / "stress.json"


@nox.session(python=DEFAULT_PYTHON)
def stress(session: nox.Session) -> None:
    """Real-thread baseline (pytest-repeat): `nox -s stress -- [--count N] [--stress-sdk V ...]
    [--stress-scale LO:HI]`; prints detections per 1000 runs, writes .nox/stress.json."""
    _install(session)
    _prefetch(session, *SDK_VERSIONS)
    args = list(session.posargs)
    if not any(a == "--count" or a.startswith("--count=") for a in args):
        args.append("--count=75")  # about 4 minutes
    STRESS_JSON.parent.mkdir(parents=True, exist_ok=True)
    session.run(
        "python",
        "-m",
        "pytest",
        "stateful_tests/stress_tests",
        "-q",
        "--stress-json",
        str(STRESS_JSON),
        *args,
    )


@nox.session(python=DEFAULT_PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks -> docs/benchmarks.md (nothing asserts a speed):
    `nox -s bench -- [--quick] [--stress-json .nox/stress.json]`."""
    _install(session)
    _prefetch(session, *SDK_VERSIONS)
    session.run("python", "-m", "stateful_tests.bench", *session.posargs)


@nox.session(python=DEFAULT_PYTHON)
def coverage(session: nox.Session) -> None:
    """Line and branch coverage of the SDK's concurrency/executor.py and models.py under the
    explorations -> docs/coverage.md: `nox -s coverage -- [--sdk 1.6.0 1.5.0] [--no-compare]`."""
    _install(session)
    _prefetch(session, "1.5.0", "1.6.0")
    session.run("python", "-m", "stateful_tests.coverage_run", *session.posargs)


def _apt_install(session: nox.Session, command: str, package: str) -> None:
    """Install a Debian package when its command is missing (CI and dev machines run as root)."""
    if shutil.which(command) is not None:
        return
    if os.geteuid() != 0:
        session.error(f"{command} is missing: run `apt-get install -y {package}` as root")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run("apt-get", "update", "-q", external=True, env=env)
    session.run("apt-get", "install", "-y", "-q", package, external=True, env=env)


@nox.session(python=DEFAULT_PYTHON)
def browser(session: nox.Session) -> None:
    """The timeline picture rendered by headless Chromium (Debian's chromium, installed)."""
    _apt_install(session, "chromium", "chromium")
    _install(session)
    _prefetch(session, "1.5.0")
    session.run(
        "python",
        "-m",
        "pytest",
        "-q",
        "-m",
        "browser",
        "stateful_tests/browser_tests",
        *session.posargs,
        env={"INTERLEAVINGS_REQUIRE_BROWSER": "1"},
    )


@nox.session(python=DEFAULT_PYTHON)
def redis(session: nox.Session) -> None:
    """The shared example database against a real redis-server (installed if missing)."""
    _apt_install(session, "redis-server", "redis-server")
    _install(session, "redis")
    session.run(
        "python",
        "-m",
        "pytest",
        "-q",
        "-m",
        "redis",
        "stateful_tests/test_database.py",
        *session.posargs,
        env={"INTERLEAVINGS_REQUIRE_REDIS": "1"},
    )


@nox.session(python=DEFAULT_PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check, configured in pyproject.toml."""
    session.install("ruff==0.17.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
