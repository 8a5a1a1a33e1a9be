"""Where Hypothesis keeps the failing examples it found, so the next run starts from them.

Hypothesis replays a test's saved failing examples before it generates anything new. Kept in
`failures/hypothesis` (beside the replay files, under the same `INTERLEAVINGS_FAILURES` root as
`check --out`), a developer who re-runs a failing test gets the same counterexample back at once.
To share them, CI and developers point at one Redis: `--db redis://host:port/n` or the
environment variable `INTERLEAVINGS_DB=redis://host:port/n`; what CI found then replays first
on a laptop. Redis is an optional dependency (the `redis` extra); without it only the
directory database is available.

A database that cannot be used is a `DatabaseError` whose message is one line for the user.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

DB_ENV = "INTERLEAVINGS_DB"
FAILURES_ENV = "INTERLEAVINGS_FAILURES"
REDIS_SCHEMES = ("redis", "rediss")
# Longer than Hypothesis's 8 days: a failure found by a nightly run must still be there after
# a holiday, and every run that reads an example renews it.
EXPIRE_AFTER = timedelta(days=30)
KEY_PREFIX = b"interleavings-example:"  # one Redis may serve other Hypothesis users too
CONNECT_TIMEOUT_S = 5.0  # bounds the one ping at start-up, so a wrong host fails fast
DB_HELP = (
    "where failing examples are kept: redis://host:port/n to share them, or a directory "
    f"(default: ${DB_ENV}, else <failures>/hypothesis)"
)


class DatabaseError(ValueError):
    """The example database cannot be used; the message is one line for the user."""


def default_directory(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get(FAILURES_ENV, "failures")) / "hypothesis"


def example_database(
    url: str | None = None, *, env: Mapping[str, str] | None = None
) -> ExampleDatabase:
    """The database named by `url` (a `--db` value), else by $INTERLEAVINGS_DB, else the
    directory `failures/hypothesis`. A `redis://` URL is checked with one ping, so a typo
    fails here in one line rather than as a traceback in the middle of a search."""
    env = os.environ if env is None else env
    spec = (url if url is not None else env.get(DB_ENV, "")).strip()
    if not spec:
        return DirectoryBasedExampleDatabase(str(default_directory(env)))
    if "://" not in spec:
        return DirectoryBasedExampleDatabase(spec)
    return _redis_database(spec)


def _redis_database(url: str) -> ExampleDatabase:
    parts = urlsplit(url)
    if parts.scheme not in REDIS_SCHEMES:
        raise DatabaseError(
            f"unsupported example database {_safe(url)!r}: expected redis://host:port/n "
            "or a directory"
        )
    try:
        port = parts.port
    except ValueError:
        raise DatabaseError(
            f"bad example database URL {_safe(url)!r}: port is not a number"
        ) from None
    if not parts.hostname:
        raise DatabaseError(f"bad example database URL {_safe(url)!r}: no host")
    db = parts.path.lstrip("/") or "0"
    if not db.isdigit():
        raise DatabaseError(
            f"bad example database URL {_safe(url)!r}: database must be a number, not {db!r}"
        )
    try:
        import redis
        from hypothesis.extra.redis import RedisExampleDatabase
    except ImportError:
        raise DatabaseError(
            "a redis:// example database needs the redis package: "
            "pip install 'interleavings-checker[redis]'"
        ) from None
    where = f"{parts.hostname}:{port or 6379}/{db}"
    client = redis.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=CONNECT_TIMEOUT_S
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise DatabaseError(f"cannot use the example database at {where}: {message}") from None
    return RedisExampleDatabase(client, expire_after=EXPIRE_AFTER, key_prefix=KEY_PREFIX)


def _safe(url: str) -> str:
    """The URL without its password, fit to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()
