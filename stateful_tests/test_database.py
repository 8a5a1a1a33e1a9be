"""The example database: a directory by default, a real Redis when one is named.

The Redis test starts its own `redis-server` on a free port of 127.0.0.1 and stores a failing
example through one database object, then reads it back through another, as CI (which found
it) and a developer (who replays it) would.
"""

from __future__ import annotations

import importlib.util
import os
import selectors
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

from stateful_tests.database import (
    DB_ENV,
    FAILURES_ENV,
    DatabaseError,
    example_database,
)

REDIS_SERVER = shutil.which("redis-server")
HAS_REDIS_PACKAGE = importlib.util.find_spec("redis") is not None
# Guards against a server that hangs, not timing assumptions: startup takes milliseconds.
HANG_GUARD_S = 60
PING_ATTEMPTS = 50
# `nox -s redis` sets this after installing redis-server, so that session cannot pass by skipping.
REQUIRED = os.environ.get("INTERLEAVINGS_REQUIRE_REDIS") == "1"


def test_directory_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DB_ENV, raising=False)
    monkeypatch.delenv(FAILURES_ENV, raising=False)
    db = example_database()
    assert isinstance(db, DirectoryBasedExampleDatabase)
    db.save(b"key", b"value")
    assert list(example_database().fetch(b"key")) == [b"value"]
    assert (tmp_path / "failures" / "hypothesis").is_dir()


def test_directory_follows_the_failures_root(tmp_path: Path) -> None:
    db = example_database(env={FAILURES_ENV: str(tmp_path / "out")})
    db.save(b"k", b"v")
    assert (tmp_path / "out" / "hypothesis").is_dir()


def test_a_path_names_a_directory(tmp_path: Path) -> None:
    db = example_database(str(tmp_path / "shared"), env={})
    assert isinstance(db, DirectoryBasedExampleDatabase)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis://localhost:sixty/0", "port is not a number"),
        ("redis:///0", "no host"),
        ("redis://localhost:6379/zero", "database must be a number"),
        ("ftp://localhost/0", "expected redis://host:port/n or a directory"),
        ("redis://user:secret@localhost:x/0", "port is not a number"),
    ],
)
def test_bad_url_is_one_clear_line(url: str, says: str) -> None:
    with pytest.raises(DatabaseError) as info:
        example_database(url, env={})
    message = str(info.value)
    assert says in message and "\n" not in message
    assert "secret" not in message


def test_the_environment_names_the_database() -> None:
    with pytest.raises(DatabaseError, match="port is not a number"):
        example_database(env={DB_ENV: "redis://localhost:nope/0"})


# ------------------------------------------------------------------------------- real Redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_ready(proc: subprocess.Popen[str]) -> None:
    """Read the server's log up to its ready line (event-driven, no sleeping)."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        seen: list[str] = []
        while True:
            if not sel.select(timeout=HANG_GUARD_S):
                raise RuntimeError("redis-server printed nothing: " + " | ".join(seen[-5:]))
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("redis-server exited: " + " | ".join(seen[-5:]))
            seen.append(line.strip())
            if "Ready to accept connections" in line:
                return


def ping(port: int) -> bool:
    """PING over a plain socket, up to PING_ATTEMPTS tries, each bounded by its own timeout."""
    for _ in range(PING_ATTEMPTS):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(64).startswith(b"+PONG"):
                    return True
        except OSError:
            continue
    return False


def missing(reason: str) -> None:
    """Skip, unless the run promised Redis (`nox -s redis`): then a missing piece is a failure."""
    if REQUIRED:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def redis_url() -> Iterator[str]:
    if REDIS_SERVER is None:
        missing("redis-server is not installed (apt-get install redis-server)")
    if not HAS_REDIS_PACKAGE:
        missing("the redis package is not installed (pip install '.[redis]')")
    assert REDIS_SERVER is not None
    port = free_port()
    proc = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until_ready(proc)
        assert ping(port), f"redis-server on port {port} does not answer PING"
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=HANG_GUARD_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def failing_test(db: ExampleDatabase, phases: tuple[Phase, ...], seen: list[int]):
    """The same test, built twice: its database key depends on its code, not the object."""

    @settings(database=db, phases=phases, max_examples=200, deadline=None)
    @given(st.integers(0, 10_000))
    def interleaving_bug(n: int) -> None:
        seen.append(n)
        assert n < 1000

    return interleaving_bug


@pytest.mark.redis
def test_ci_and_a_developer_share_a_failure_through_redis(redis_url: str) -> None:
    ci_db = example_database(redis_url, env={})
    laptop_db = example_database(None, env={DB_ENV: redis_url})
    assert ci_db is not laptop_db
    assert type(ci_db).__name__ == "RedisExampleDatabase"

    ci_seen: list[int] = []
    with pytest.raises(AssertionError):
        failing_test(ci_db, (Phase.generate, Phase.shrink), ci_seen)()
    assert 1000 in ci_seen  # CI shrank the failure to its minimal example

    # The developer only replays what is stored: no generation, no shrinking.
    laptop_seen: list[int] = []
    with pytest.raises(AssertionError):
        failing_test(laptop_db, (Phase.reuse,), laptop_seen)()
    assert laptop_seen[0] == 1000

    # Raw save/fetch across the two objects, too.
    ci_db.save(b"shared-key", b"choices")
    assert list(laptop_db.fetch(b"shared-key")) == [b"choices"]


@pytest.mark.redis
def test_unreachable_redis_is_one_clear_line() -> None:
    if not HAS_REDIS_PACKAGE:
        missing("the redis package is not installed (pip install '.[redis]')")
    port = free_port()  # nothing listens there
    with pytest.raises(DatabaseError, match=f"cannot use the example database at 127.0.0.1:{port}"):
        example_database(f"redis://127.0.0.1:{port}/0", env={})
