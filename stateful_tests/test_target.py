"""`--sdk SPEC` resolution and loading: every usable SPEC works, every unusable one is one line."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scheduler import target as target_module
from scheduler.target import (
    ALL_GENERATIONS,
    CACHE_ENV,
    PACKAGE,
    Target,
    TargetError,
    load,
    loaded,
    main,
    resolve,
)

REPO = Path(__file__).resolve().parents[1]
RELEASES = ("1.5.0", "1.6.0", "1.7.0")


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache of this test's own, so what a test writes or leaves is visible and isolated."""
    cache = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(cache))
    return cache


def error_line(spec: str, **kwargs: object) -> str:
    """The message resolve() refuses spec with, checked to be one line."""
    with pytest.raises(TargetError) as caught:
        resolve(spec, **kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message and "\n" not in message
    return message


def copy_package(source_root: Path, into: Path) -> None:
    shutil.copytree(source_root / PACKAGE, into / PACKAGE)


# ----------------------------------------------------------------------------- usable specs


@pytest.mark.parametrize("version", RELEASES)
def test_release_resolves_from_the_cache(version: str) -> None:
    found = resolve(version)
    assert found == Target(
        spec=version,
        version=version,
        root=found.root,
        source_hash=found.source_hash,
        generation="1.x",
    )
    assert (found.root / PACKAGE / "concurrency" / "executor.py").is_file()
    # sha256 over the hashed sources, its first 16 hex digits (scheduler/target.py)
    assert re.fullmatch(r"[0-9a-f]{16}", found.source_hash), found.source_hash


def test_default_spec_is_the_release_under_review() -> None:
    assert resolve(None).version == "1.6.0"
    assert resolve(None).spec == "1.6.0"


def test_source_hash_tells_releases_apart() -> None:
    hashes = {resolve(version).source_hash for version in RELEASES}
    assert len(hashes) == len(RELEASES)


def test_cache_location_follows_the_environment(private_cache: Path) -> None:
    assert target_module.cache_dir() == private_cache


def test_default_cache_is_at_the_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CACHE_ENV, raising=False)
    assert target_module.cache_dir() == REPO / ".sdk-cache"


def test_unpacked_wheel_directory(tmp_path: Path) -> None:
    release = resolve("1.6.0")
    copy_package(release.root, tmp_path)
    found = resolve(str(tmp_path))
    assert (found.root, found.version, found.generation) == (tmp_path, "1.6.0", "1.x")
    assert found.source_hash == release.source_hash


def test_package_folder_itself(tmp_path: Path) -> None:
    release = resolve("1.6.0")
    copy_package(release.root, tmp_path)
    assert resolve(str(tmp_path / PACKAGE)).root == tmp_path


def test_checkout_with_src_layout(tmp_path: Path) -> None:
    release = resolve("1.6.0")
    copy_package(release.root, tmp_path / "src")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "aws-durable-execution-sdk-python"\nversion = "1.6.0"\n'
    )
    found = resolve(str(tmp_path))
    assert found.root == tmp_path / "src"
    assert found.version == "1.6.0"
    assert found.source_hash == release.source_hash
    # A checkout's src/ folder is a usable SPEC on its own.
    assert resolve(str(tmp_path / "src")).root == tmp_path / "src"


def test_checkout_version_falls_back_to_pyproject(tmp_path: Path) -> None:
    copy_package(resolve("1.6.0").root, tmp_path / "src")
    (tmp_path / "src" / PACKAGE / "__about__.py").unlink()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "sdk"\nversion = "1.6.1.dev0"\n')
    assert resolve(str(tmp_path)).version == "1.6.1.dev0"


def test_checkout_changes_show_in_the_source_hash(tmp_path: Path) -> None:
    release = resolve("1.6.0")
    copy_package(release.root, tmp_path)
    executor = tmp_path / PACKAGE / "concurrency" / "executor.py"
    executor.write_text(executor.read_text() + "\n# a local edit\n")
    assert resolve(str(tmp_path)).source_hash != release.source_hash


def test_wheel_path_is_unpacked_into_the_cache(tmp_path: Path, monkeypatch) -> None:
    release = resolve("1.6.0")  # from the shared cache, before switching to a private one
    (wheel,) = release.root.glob("*.whl")
    copied = tmp_path / wheel.name
    shutil.copy2(wheel, copied)
    cache = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(cache))

    found = resolve(str(copied))
    assert found.root.parent == cache
    assert found.root.name.startswith("wheel-")
    assert (found.version, found.generation) == ("1.6.0", "1.x")
    assert found.source_hash == release.source_hash
    assert resolve(str(copied)).root == found.root  # served from the cache the second time
    assert [entry.name for entry in cache.iterdir()] == [found.root.name]  # no staging left


# ----------------------------------------------------------------------------- unusable specs


def test_unknown_version(private_cache: Path) -> None:
    assert error_line("0.0.1") == "unknown SDK version 0.0.1: not on the package index"
    assert not private_cache.exists() or list(private_cache.iterdir()) == []


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    assert error_line(str(missing)) == f"SDK path does not exist: {missing}"


def test_missing_wheel_path(tmp_path: Path) -> None:
    missing = tmp_path / "sdk-1.6.0-py3-none-any.whl"
    assert error_line(str(missing)) == f"SDK path does not exist: {missing}"


def test_directory_without_the_package(tmp_path: Path) -> None:
    message = error_line(str(tmp_path))
    assert message == f"no {PACKAGE} package in {tmp_path} (looked in it and in its src/ folder)"


def test_file_that_is_not_a_wheel(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a wheel")
    assert error_line(str(notes)).startswith(f"not a wheel: {notes}")


def test_whl_that_is_not_a_zip(tmp_path: Path) -> None:
    fake = tmp_path / "fake-1.0-py3-none-any.whl"
    fake.write_bytes(b"definitely not a zip")
    assert error_line(str(fake)) == f"not a wheel: {fake} is not a zip archive"


def test_wheel_of_another_package(tmp_path: Path) -> None:
    other = tmp_path / "other-1.0-py3-none-any.whl"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("other/__init__.py", "")
    assert error_line(str(other)) == f"wheel {other.name} does not contain the package {PACKAGE}"


@pytest.mark.parametrize("spec", ["1.6", "v1.6.0", "1.6.0.0.x", "1..6"])
def test_malformed_version(spec: str) -> None:
    assert error_line(spec).startswith(f"malformed SDK version {spec!r}: expected a release")


def test_empty_spec() -> None:
    assert error_line(" ").startswith("empty SDK spec")


def test_package_without_the_concurrent_executor(tmp_path: Path) -> None:
    (tmp_path / PACKAGE).mkdir()
    (tmp_path / PACKAGE / "__init__.py").write_text("")
    assert "not an SDK with the concurrent executor" in error_line(str(tmp_path))


def test_second_generation_is_not_supported_yet() -> None:
    assert error_line("2.0.1") == (
        "SDK 2.0.1 (generation 2.x) is not supported yet: only the 1.x TimerScheduler generation is"
    )
    # Detected from the code: the caller that can drive 2.x gets the target.
    assert resolve("2.0.1", supported=ALL_GENERATIONS).generation == "2.x"


def test_generation_comes_from_the_code_not_the_version(tmp_path: Path) -> None:
    copy_package(resolve("1.6.0").root, tmp_path)
    executor = tmp_path / PACKAGE / "concurrency" / "executor.py"
    executor.write_text(executor.read_text().replace("class TimerScheduler", "class Renamed"))
    assert error_line(str(tmp_path)).startswith("SDK 1.6.0 (generation 2.x) is not supported")


# ----------------------------------------------------------------------------- loading


def resubmit_annotation(modules) -> str:
    return modules.executor.TimerScheduler.__init__.__annotations__["resubmit_callback"]


def test_each_load_gives_that_versions_code(restore_sdk_modules: None) -> None:
    first = load(resolve("1.5.0"))
    second = load(resolve("1.6.0"))
    third = load(resolve("1.5.0"))

    assert resubmit_annotation(first) == "Callable[[ExecutableWithState], None]"
    assert resubmit_annotation(second) == "Callable[[list[ExecutableWithState]], None]"
    assert resubmit_annotation(third) == resubmit_annotation(first)
    # A reload is a fresh import, and the earlier module objects keep their own code.
    assert third.executor is not first.executor
    assert first.executor.TimerScheduler is not second.executor.TimerScheduler
    assert resubmit_annotation(first) == "Callable[[ExecutableWithState], None]"
    assert sys.modules[f"{PACKAGE}.concurrency.executor"] is third.executor
    for modules in (first, second, third):
        assert Path(modules.executor.__file__).is_relative_to(modules.target.root)
        assert Path(modules.state.__file__).is_relative_to(modules.target.root)
        assert str(modules.target.root) not in sys.path
    assert first.plugin is None and second.plugin is not None


def test_loaded_restores_sys_modules(restore_sdk_modules: None) -> None:
    outer = load(resolve("1.6.0"))
    with loaded(resolve("1.7.0")) as inner:
        assert sys.modules[f"{PACKAGE}.state"] is inner.state
        assert inner.package.__about__.__version__ == "1.7.0"
    assert sys.modules[f"{PACKAGE}.state"] is outer.state
    assert sys.modules[PACKAGE] is outer.package


def test_loaded_modules_expose_what_adapters_need() -> None:
    with loaded(resolve("1.6.0")) as modules:
        assert modules.target.version == "1.6.0"
        assert hasattr(modules.executor, "ConcurrentExecutor")
        assert hasattr(modules.models, "ExecutableWithState")
        assert hasattr(modules.exceptions, "BackgroundThreadError")
        assert hasattr(modules.state, "ExecutionState")
        assert hasattr(modules.config, "CompletionConfig")
        assert modules.modules[f"{PACKAGE}.exceptions"] is modules.exceptions


# ----------------------------------------------------------------------------- CLI


def test_fetch_cli_fills_the_cache(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fetch", *RELEASES]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [f"sdk={v}" for v in RELEASES]


def test_fetch_cli_reports_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fetch", "1.6"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("malformed SDK version '1.6'")


def test_module_entry_point(private_cache: Path) -> None:
    env = {**os.environ, CACHE_ENV: str(private_cache)}
    result = subprocess.run(
        [sys.executable, "-m", "scheduler.target", "fetch", "not-a-version"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "malformed SDK version 'not-a-version': expected a release such as 1.6.0,"
        " a .whl path or an SDK directory"
    ]
