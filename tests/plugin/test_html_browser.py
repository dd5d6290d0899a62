"""The HTML reports in a real browser: headless Chromium renders each page, takes a
screenshot (which must show something, not a blank page) and dumps the DOM (whose
text must hold the headline numbers).

Skipped when Chromium is not installed, unless LLMDRIFT_REQUIRE_BROWSER=1 (set by
CI, which installs it), where a missing browser fails instead.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pytest_llmdrift.report.html import pct, render_compare, render_run
from tests.report_samples import NEW, OLD, compare_result, run_doc

BROWSER_TIMEOUT = 120  # seconds for one Chromium run
WINDOW = (1280, 2000)
REQUIRE_ENV = "LLMDRIFT_REQUIRE_BROWSER"


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "Chromium is not installed (apt-get install chromium)"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{message}, and {REQUIRE_ENV}=1 requires it")
        pytest.skip(message)
    return found


def run_browser(browser: str, page: Path, tmp_path: Path, *args: str) -> str:
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        *args,
        page.as_uri(),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=BROWSER_TIMEOUT, check=False
    )
    assert done.returncode == 0, f"chromium failed ({done.returncode}):\n{done.stderr[-3000:]}"
    return done.stdout


def render_in_browser(browser: str, html: str, tmp_path: Path) -> tuple[Path, str]:
    """The screenshot of ``html`` and the text of its DOM after rendering."""
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    shot = tmp_path / "shot.png"
    run_browser(browser, page, tmp_path, f"--screenshot={shot}")
    dom = run_browser(browser, page, tmp_path, "--dump-dom")
    return shot, dom_text(dom)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def dom_text(dom: str) -> str:
    parser = _Text()
    parser.feed(dom)
    return " ".join(" ".join(parser.parts).split())


# -- PNG decoding, stdlib only -------------------------------------------------------
def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and the rows of an 8-bit RGB or RGBA PNG, unfiltered."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8, "only 8-bit PNGs"
            assert interlace == 0, "only non-interlaced PNGs"
            channels = {2: 3, 6: 4}[colour]
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], raw[start + 1 : start + 1 + stride]
        row = _unfilter(kind, line, previous, channels)
        rows.append(row)
        previous = row
    return width, height, rows


def _unfilter(kind: int, line: bytes, up: bytes, bpp: int) -> bytes:
    if kind == 0:
        return bytes(line)
    if kind == 2:
        return bytes((a + b) & 0xFF for a, b in zip(line, up, strict=True))
    out = bytearray(line)
    for i in range(len(out)):
        left = out[i - bpp] if i >= bpp else 0
        if kind == 1:
            out[i] = (out[i] + left) & 0xFF
        elif kind == 3:
            out[i] = (out[i] + (left + up[i]) // 2) & 0xFF
        elif kind == 4:
            corner = up[i - bpp] if i >= bpp else 0
            p = left + up[i] - corner
            pa, pb, pc = abs(p - left), abs(p - up[i]), abs(p - corner)
            pred = left if pa <= pb and pa <= pc else (up[i] if pb <= pc else corner)
            out[i] = (out[i] + pred) & 0xFF
        else:
            raise AssertionError(f"unknown PNG filter {kind}")
    return bytes(out)


def colour_counts(path: Path) -> tuple[int, int, Counter[bytes]]:
    width, height, rows = png_pixels(path)
    channels = len(rows[0]) // width
    counts: Counter[bytes] = Counter()
    for row in rows[::4]:  # every fourth row is plenty
        counts.update(row[i : i + 3] for i in range(0, len(row), channels))
    return width, height, counts


def assert_not_blank(shot: Path) -> None:
    assert shot.is_file(), "no screenshot written"
    width, height, counts = colour_counts(shot)
    assert (width, height) == WINDOW
    total = sum(counts.values())
    assert len(counts) > 50, f"only {len(counts)} distinct colours: a blank page?"
    ((_, most),) = counts.most_common(1)
    assert most / total < 0.9, "one colour covers more than 90% of the page"


# -- the tests -------------------------------------------------------------------------
def test_run_report_renders_in_chromium(chromium: str, tmp_path: Path) -> None:
    doc = run_doc()
    shot, text = render_in_browser(chromium, render_run(doc), tmp_path)
    assert_not_blank(shot)
    overall = doc["metrics"]["overall"]
    assert f"LLM drift report: {OLD}, {NEW}" in text
    assert pct(overall["pass_rate"]) in text  # 69.2%
    assert f"{overall['drifted']} of {overall['comparisons']}" in text
    new = doc["metrics"]["categories"][NEW]
    assert f"{pct(new['math']['pass_rate'])} {new['math']['passed']}/5 passed" in text


def test_compare_report_renders_in_chromium(chromium: str, tmp_path: Path) -> None:
    result = compare_result()
    shot, text = render_in_browser(chromium, render_compare(result), tmp_path)
    assert_not_blank(shot)
    rates = result["pass_rate"]
    assert f"{pct(rates['base'])} → {pct(rates['current'])}" in text
    assert f"{len(result['regressions'])} REGRESSIONS" in text
    assert f"Regressions {len(result['regressions'])} test(s) went from pass to fail" in text
    assert "SEESAW" in text
    assert "★ significant drop" in text
    assert "★ significant rise" in text


def test_a_blank_page_is_caught(chromium: str, tmp_path: Path) -> None:
    """The blank-page check itself: an empty page fails it."""
    page = tmp_path / "blank.html"
    page.write_text("<!DOCTYPE html><title>blank</title>", encoding="utf-8")
    shot = tmp_path / "blank.png"
    run_browser(chromium, page, tmp_path, f"--screenshot={shot}")
    with pytest.raises(AssertionError, match="distinct colours"):
        assert_not_blank(shot)
