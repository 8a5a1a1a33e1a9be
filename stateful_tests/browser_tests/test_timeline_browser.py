"""The timeline picture as a browser draws it: a real 1.5.0 counterexample in headless Chromium.

The unit tests read the HTML; only a browser shows that the SVG actually renders as lanes. The
screenshot is decoded with the tiny reader beside this file and checked for what a reviewer
must see: one lane per thread (each in its own colour, stacked in thread order) and the red
violation marker crossing them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from stateful_tests.browser_tests.png import Image, read_png
from stateful_tests.test_timeline import deadlock_case
from stateful_tests.timeline import THREAD_COLORS, VIOLATION_COLOR, write_timeline

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
WINDOW = (1400, 900)
# A guard against a browser that hangs, not a timing assumption: a screenshot takes ~2 s.
HANG_GUARD_S = 180

# `nox -s browser` sets this after installing chromium, so that session cannot pass by skipping.
REQUIRED = os.environ.get("INTERLEAVINGS_REQUIRE_BROWSER") == "1"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None and not REQUIRED,
        reason="chromium is not installed (`nox -s browser` installs it: apt-get install chromium)",
    ),
]


def rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def screenshot(page: Path, out: Path, profile: Path) -> Image:
    assert CHROMIUM is not None, "chromium is required here but not installed"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--screenshot={out}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        page.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert done.returncode == 0 and out.is_file(), done.stderr[-2000:]
    return read_png(out)


def rows_with(image: Image, colour: tuple[int, int, int], at_least: int = 3) -> list[int]:
    """The rows of the picture holding at least `at_least` pixels of exactly `colour`."""
    return [
        y for y, row in enumerate(image.rgb_rows) if sum(1 for p in row if p == colour) >= at_least
    ]


@pytest.fixture(scope="module")
def picture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Image, list[str], Path]:
    outcome, run, violation = deadlock_case()
    folder = tmp_path_factory.mktemp("timeline")
    page = write_timeline(folder / "no_deadlock.html", outcome, run, violation)
    png = folder / "no_deadlock.png"
    image = screenshot(page, png, folder / "profile")
    names = [name for _, name in outcome.trace.threads()]
    return image, names, png


def test_screenshot_has_the_window_size(picture) -> None:
    image, _, png = picture
    assert (image.width, image.height) == WINDOW, png


def test_one_lane_per_thread_in_thread_order(picture) -> None:
    image, names, png = picture
    counts = Counter(p for row in image.rgb_rows for p in row)
    colours = [rgb(THREAD_COLORS[i]) for i in range(len(names))]
    for name, colour in zip(names, colours):
        assert counts[colour] >= 50, f"lane of {name} ({colour}) not drawn in {png}"
    rows = [rows_with(image, colour) for colour in colours]
    tops = [r[0] for r in rows]
    assert tops == sorted(tops) and len(set(tops)) == len(tops), f"lanes out of order: {tops}"
    # each lane is a band of its own: the upper lane has boxes above the lower lane's first row
    for upper, lower_top in zip(rows, tops[1:]):
        assert [y for y in upper if y < lower_top], f"lane bands overlap in {png}"


def test_violation_marker_crosses_the_lanes(picture) -> None:
    image, names, png = picture
    marker = rows_with(image, rgb(VIOLATION_COLOR), at_least=2)
    assert len(marker) >= 100, f"no violation marker in {png}"
    first_lane = rows_with(image, rgb(THREAD_COLORS[0]))[0]
    last_lane = rows_with(image, rgb(THREAD_COLORS[len(names) - 1]))[0]
    assert marker[0] <= first_lane and marker[-1] >= last_lane, (marker[0], marker[-1], png)


def test_the_picture_is_not_blank(picture) -> None:
    image, _, png = picture
    drawn = [y for y, row in enumerate(image.rgb_rows) if any(p != (255, 255, 255) for p in row)]
    assert len(drawn) > image.height // 2, png
