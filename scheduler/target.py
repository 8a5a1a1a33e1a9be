"""Resolving and loading the SDK under test (`--sdk SPEC`).

A SPEC is a released version (``1.6.0``), a path to a wheel, a directory holding the package
folder ``aws_durable_execution_sdk_python`` (an unpacked wheel or a checkout's ``src/``), or a
checkout with a ``pyproject.toml``. `resolve` turns it into a `Target` (where the code is, which
version, which scheduler generation) without importing anything; `load` imports that code.

Released versions and wheels are unpacked into a cache (``INTERLEAVINGS_SDK_CACHE``, default
``<repo>/.sdk-cache``) so a run never re-downloads and the code under test is plain files. Every
cache entry appears atomically (unpacked into a temporary folder, then renamed), so an interrupted
fetch leaves nothing half-written behind.

Loading: `load` purges every ``aws_durable_execution_sdk_python*`` entry from `sys.modules`, puts
the target's root first on `sys.path`, imports, and takes the root off `sys.path` again. The new
modules stay in `sys.modules` until the next `load`, so SDK code that imports lazily finds its own
version. Module objects returned by an earlier `load` keep working after a later one: each SDK
module binds its imports at import time and none imports inside a function (checked for 1.5.0,
1.6.0 and 1.7.0). `loaded` is the scoped form for tests: it restores the previous SDK entries of
`sys.modules` on exit.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import types
import zipfile
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "aws_durable_execution_sdk_python"
DISTRIBUTION = "aws-durable-execution-sdk-python"
DEFAULT_SPEC = "1.6.0"
CACHE_ENV = "INTERLEAVINGS_SDK_CACHE"
REPO_ROOT = Path(__file__).resolve().parents[1]

GENERATION_1 = "1.x"
GENERATION_2 = "2.x"
SUPPORTED_GENERATIONS: frozenset[str] = frozenset({GENERATION_1})
ALL_GENERATIONS: frozenset[str] = frozenset({GENERATION_1, GENERATION_2})

# The files whose bytes identify the scheduler code under test.
HASHED_FILES = ("concurrency/executor.py", "concurrency/models.py")

# A release as published on the index: 1.6.0, 1.0.0.post1, 2.1.0rc1, ...
_VERSION_RE = re.compile(r"\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?(?:\.post\d+)?(?:\.dev\d+)?")
# Something a user meant as a version rather than as a path: 1.6, v1.6.0, 1.6.x ...
_VERSIONISH_RE = re.compile(r"[vV]?\d[\w.+!-]*")
_ABOUT_RE = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.MULTILINE)
_TIMER_SCHEDULER_RE = re.compile(r"^class\s+TimerScheduler\b", re.MULTILINE)
_PIP_TIMEOUT_S = 600


class TargetError(Exception):
    """A SPEC that cannot be used; the message is one line, printed as is before exit 2."""


@dataclass(frozen=True)
class Target:
    """Where an SDK's code is, and what it is; resolving never imports it."""

    spec: str
    version: str
    root: Path  # the directory that contains the package folder aws_durable_execution_sdk_python
    source_hash: str  # sha256 over concurrency/executor.py + concurrency/models.py, 16 hex chars
    generation: str  # "1.x" (TimerScheduler) or "2.x" (coordinator loop)

    @property
    def package_dir(self) -> Path:
        """The package folder itself."""
        return self.root / PACKAGE


@dataclass(frozen=True)
class SdkModules:
    """The imported modules of one target; the adapters and the fault model use only these."""

    target: Target
    package: types.ModuleType
    executor: types.ModuleType  # concurrency.executor
    models: types.ModuleType  # concurrency.models
    exceptions: types.ModuleType
    state: types.ModuleType
    config: types.ModuleType
    lambda_service: types.ModuleType
    plugin: types.ModuleType | None  # absent before 1.6.0
    modules: dict[str, types.ModuleType]  # every SDK entry of sys.modules after the import


# ---------------------------------------------------------------------------------------------
# resolve


def cache_dir() -> Path:
    """The SDK cache: INTERLEAVINGS_SDK_CACHE, or .sdk-cache at the repository root."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else REPO_ROOT / ".sdk-cache"


def resolve(
    spec: str | None = None, *, supported: Collection[str] = SUPPORTED_GENERATIONS
) -> Target:
    """Turn a SPEC into a Target, fetching a released version into the cache when needed.

    `supported` lists the generations the caller can drive; a target of another generation is a
    TargetError, so an unsupported SDK is refused before anything runs.
    """
    spec = DEFAULT_SPEC if spec is None else spec.strip()
    if not spec:
        raise TargetError("empty SDK spec: give a version such as 1.6.0, a .whl or a directory")
    root = _fetch_version(spec) if _VERSION_RE.fullmatch(spec) else _root_for_path(spec)
    return _describe(spec, root, supported)


def _root_for_path(spec: str) -> Path:
    """The root for a wheel or directory SPEC; classify what is wrong with it otherwise."""
    path = Path(spec).expanduser()
    if not path.exists():
        if _VERSIONISH_RE.fullmatch(spec) and not spec.endswith(".whl"):
            raise _malformed(spec)
        raise TargetError(f"SDK path does not exist: {path}")
    path = path.resolve()
    if path.is_file():
        return _unpack_wheel(path)
    if path.is_dir():
        return _find_package(path)
    raise TargetError(f"SDK path is neither a file nor a directory: {path}")


def _malformed(spec: str) -> TargetError:
    return TargetError(
        f"malformed SDK version {spec!r}: expected a release such as 1.6.0,"
        " a .whl path or an SDK directory"
    )


def _find_package(directory: Path) -> Path:
    """The folder that contains the package: the directory itself, its src/, or its parent."""
    if directory.name == PACKAGE and (directory / "__init__.py").is_file():
        return directory.parent
    for candidate in (directory, directory / "src"):
        if (candidate / PACKAGE / "__init__.py").is_file():
            return candidate
    raise TargetError(f"no {PACKAGE} package in {directory} (looked in it and in its src/ folder)")


def _describe(spec: str, root: Path, supported: Collection[str]) -> Target:
    """Read version, generation and source hash of the package under root."""
    package_dir = root / PACKAGE
    missing = [name for name in HASHED_FILES if not (package_dir / name).is_file()]
    if missing:
        raise TargetError(
            f"{package_dir} has no {', '.join(missing)}: not an SDK with the concurrent executor"
        )
    executor_source = (package_dir / HASHED_FILES[0]).read_text(encoding="utf-8")
    generation = GENERATION_1 if _TIMER_SCHEDULER_RE.search(executor_source) else GENERATION_2
    version = _read_version(root)
    if generation not in supported:
        only = " and ".join(
            f"the {g} {'TimerScheduler' if g == GENERATION_1 else 'coordinator'}"
            for g in sorted(supported)
        )
        raise TargetError(
            f"SDK {version} (generation {generation}) is not supported yet:"
            f" only {only or 'no'} generation is"
        )
    digest = hashlib.sha256()
    for name in HASHED_FILES:
        digest.update((package_dir / name).read_bytes())
    return Target(
        spec=spec,
        version=version,
        root=root,
        source_hash=digest.hexdigest()[:16],
        generation=generation,
    )


def _read_version(root: Path) -> str:
    """The version from __about__.py, else the wheel's dist-info, else a checkout's pyproject."""
    about = root / PACKAGE / "__about__.py"
    if about.is_file():
        match = _ABOUT_RE.search(about.read_text(encoding="utf-8"))
        if match:
            return match.group(1)
    for metadata in sorted(root.glob(f"{PACKAGE}-*.dist-info/METADATA")):
        for line in metadata.read_text(encoding="utf-8").splitlines():
            if line.startswith("Version:"):
                return line.partition(":")[2].strip()
            if not line:
                break
    for checkout in (root, root.parent):
        pyproject = checkout / "pyproject.toml"
        if pyproject.is_file():
            try:
                project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
            except tomllib.TOMLDecodeError as error:
                raise TargetError(f"unreadable {pyproject}: {error}") from None
            if isinstance(project.get("version"), str):
                return project["version"]
    raise TargetError(
        f"cannot tell the SDK version in {root}: no __about__.py, dist-info or pyproject version"
    )


# ---------------------------------------------------------------------------------------------
# the cache


def _fetch_version(version: str) -> Path:
    """<cache>/<version>, downloading and unpacking the released wheel when it is absent."""
    cache = cache_dir()
    entry = cache / version
    if _is_complete(entry):
        return entry
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise TargetError(f"cannot create the SDK cache {cache}: {error.strerror}") from None
    with tempfile.TemporaryDirectory(prefix=".download-", dir=cache) as download:
        wheel = _pip_download(version, Path(download))
        _unpack_atomically(wheel, entry, keep_wheel=True)
    return entry


def _pip_download(version: str, into: Path) -> Path:
    """Download the wheel of one released version with pip; classify pip's failure in one line."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--no-input",
        f"{DISTRIBUTION}=={version}",
        "-d",
        str(into),
    ]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise TargetError(
            f"could not fetch SDK {version}: pip download took over {_PIP_TIMEOUT_S} s"
        ) from None
    wheels = sorted(into.glob("*.whl"))
    if result.returncode == 0 and wheels:
        return wheels[0]
    stderr = result.stderr
    if "No matching distribution found" in stderr or "Could not find a version" in stderr:
        if "(from versions: none)" in stderr:
            raise TargetError(
                f"could not fetch SDK {version}: the package index lists no versions of"
                f" {DISTRIBUTION} (is the index reachable?)"
            )
        raise TargetError(f"unknown SDK version {version}: not on the package index")
    errors = [line.strip() for line in stderr.splitlines() if line.strip().startswith("ERROR")]
    detail = errors[-1] if errors else f"pip exited with {result.returncode}"
    raise TargetError(f"could not fetch SDK {version}: {detail}")


def _unpack_wheel(path: Path) -> Path:
    """<cache>/wheel-<sha>, unpacking the wheel at path when it is not there yet."""
    if path.suffix != ".whl":
        raise TargetError(f"not a wheel: {path} (expected a .whl file or an SDK directory)")
    if not zipfile.is_zipfile(path):
        raise TargetError(f"not a wheel: {path} is not a zip archive")
    with zipfile.ZipFile(path) as archive:
        if f"{PACKAGE}/__init__.py" not in archive.namelist():
            raise TargetError(f"wheel {path.name} does not contain the package {PACKAGE}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    cache = cache_dir()
    entry = cache / f"wheel-{digest}"
    if _is_complete(entry):
        return entry
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise TargetError(f"cannot create the SDK cache {cache}: {error.strerror}") from None
    _unpack_atomically(path, entry, keep_wheel=False)
    return entry


def _unpack_atomically(wheel: Path, entry: Path, *, keep_wheel: bool) -> None:
    """Unpack into a sibling temporary folder, then rename it to entry in one step."""
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=entry.parent))
    try:
        try:
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(staging)
        except (zipfile.BadZipFile, OSError) as error:
            raise TargetError(f"cannot unpack {wheel.name}: {error}") from None
        if keep_wheel:
            shutil.copy2(wheel, staging / wheel.name)
        staging.chmod(0o755)  # mkdtemp made it private; the cache is shared like any checkout
        try:
            staging.rename(entry)
        except OSError:
            # Another process may have finished the same entry first; theirs is as good.
            if not _is_complete(entry):
                raise TargetError(f"cannot write the SDK cache entry {entry}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _is_complete(entry: Path) -> bool:
    """A cache entry exists only whole (it appears by rename), so one file is proof enough."""
    return (entry / PACKAGE / HASHED_FILES[0]).is_file()


def prefetch(versions: Iterable[str]) -> list[Target]:
    """Fill the cache with released versions (used by nox before tests); any generation."""
    targets = []
    for version in versions:
        if not _VERSION_RE.fullmatch(version):
            raise _malformed(version)
        targets.append(resolve(version, supported=ALL_GENERATIONS))
    return targets


# ---------------------------------------------------------------------------------------------
# load


def _sdk_entries() -> dict[str, types.ModuleType]:
    """Every SDK module currently in sys.modules."""
    return {
        name: module
        for name, module in sys.modules.items()
        if name == PACKAGE or name.startswith(PACKAGE + ".")
    }


def _purge() -> None:
    for name in list(_sdk_entries()):
        del sys.modules[name]


def load(target: Target) -> SdkModules:
    """Import the target's code in place of any SDK imported before (see the module docstring)."""
    _purge()
    root = str(target.root)
    sys.path.insert(0, root)
    importlib.invalidate_caches()
    try:
        package = importlib.import_module(PACKAGE)
        imported = {
            name: importlib.import_module(f"{PACKAGE}.{name}")
            for name in (
                "concurrency.executor",
                "concurrency.models",
                "exceptions",
                "state",
                "config",
                "lambda_service",
            )
        }
        plugin = None
        if (target.package_dir / "plugin.py").is_file():
            plugin = importlib.import_module(f"{PACKAGE}.plugin")
    except ImportError as error:
        _purge()
        raise TargetError(f"cannot import SDK {target.version} from {root}: {error}") from None
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(root)
    origin = Path(package.__file__ or "").resolve()
    if not origin.is_relative_to(target.package_dir.resolve()):
        _purge()
        raise TargetError(f"SDK {target.version} was shadowed by another copy at {origin.parent}")
    return SdkModules(
        target=target,
        package=package,
        executor=imported["concurrency.executor"],
        models=imported["concurrency.models"],
        exceptions=imported["exceptions"],
        state=imported["state"],
        config=imported["config"],
        lambda_service=imported["lambda_service"],
        plugin=plugin,
        modules=_sdk_entries(),
    )


@contextlib.contextmanager
def loaded(target: Target) -> Iterator[SdkModules]:
    """`load` for a scope: on exit, sys.modules holds the SDK entries it held before."""
    previous = _sdk_entries()
    try:
        yield load(target)
    finally:
        _purge()
        sys.modules.update(previous)


# ---------------------------------------------------------------------------------------------
# CLI


def main(argv: list[str] | None = None) -> int:
    """`python -m scheduler.target fetch V...` fills the cache; `show SPEC` prints a target."""
    args = sys.argv[1:] if argv is None else argv
    usage = "usage: python -m scheduler.target fetch VERSION... | show [SPEC]"
    if not args or args[0] not in {"fetch", "show"}:
        print(usage, file=sys.stderr)
        return 2
    try:
        if args[0] == "fetch":
            if len(args) < 2:
                print(usage, file=sys.stderr)
                return 2
            targets = prefetch(args[1:])
        else:
            targets = [resolve(args[1] if len(args) > 1 else None, supported=ALL_GENERATIONS)]
    except TargetError as error:
        print(error, file=sys.stderr)
        return 2
    for target in targets:
        print(
            f"sdk={target.version} generation={target.generation}"
            f" source={target.source_hash} root={target.root}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
