"""report.html in a real headless browser (Debian's chromium): it renders, its plots decode, its console is
silent, and it fetches nothing."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

PLOTS = 5  # per-layer error, drift by step, accuracy vs size/latency, confusion deltas, latency distribution


def _render(page: Path) -> tuple[str, list[str]]:
    """The DOM after load and the console messages of one headless chromium run over `page`."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed for this test (.ci/run installs it: apt-get install chromium)"
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=5000", "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, cwd=page.parent,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, [line for line in result.stderr.splitlines() if "CONSOLE" in line]


def test_the_demo_report_renders_with_every_plot_and_a_silent_console(demo_build):
    page = demo_build.path / "report.html"
    dom, console = _render(page)
    assert console == []
    assert f'data-plots-rendered="{PLOTS}/{PLOTS}"' in dom  # set by the page once each image decoded
    assert "digits-cnn.int8.tflite" in dom and "First diverging layer" in dom and "Prediction flips" in dom
    source = page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", source) and "<link" not in source  # nothing fetched


def test_the_browser_check_sees_a_broken_page(tmp_path):
    """The same check on a page with a script error and an undecodable image: both show."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<html><body><figure><img src="data:image/png;base64,AAAA"></figure><script>missing();</script>'
        "<script>window.onload = function () { document.body.dataset.plotsRendered = "
        "document.querySelector('img').naturalWidth + '/1'; };</script></body></html>"
    )
    dom, console = _render(page)
    assert any("missing is not defined" in line for line in console)
    assert 'data-plots-rendered="0/1"' in dom
