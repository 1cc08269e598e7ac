"""The HTML report: escaping, and rendering in a real headless browser (Chromium).

The browser test is skipped when no Chromium is installed, unless
SQLHARNESS_REQUIRE_BROWSER=1 (CI sets it), in which case a missing browser fails it.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from reports_files import question_row, write_run

from eval.cli import main
from eval.reports.html import CSP

HOSTILE_SQL = (
    "<script>window.__pwned = 1; document.title = 'pwned'</script><img src=x onerror=\"window.__pwned=2\">"
)
HOSTILE_MODEL = '"><script>window.__pwned = 3</script>'

# Appended to a copy of the report (with its CSP removed, so that only escaping stands
# between the hostile text and execution): measures what the browser laid out and writes
# it into the DOM, which --dump-dom then prints.
PROBE = """
<script>
const box = (el) => { const r = el.getBoundingClientRect(); return [r.width, r.height]; };
const probe = {
  rows: [...document.querySelectorAll('#leaderboard tbody tr')].map(tr => [tr.cells[1].textContent, ...box(tr)]),
  bars: [...document.querySelectorAll('#category-chart rect.bar')].map(
    b => [b.dataset.run, b.dataset.category, ...box(b)]),
  chart: box(document.getElementById('category-chart')),
  failures: document.querySelectorAll('tr.failure').length,
  images: document.images.length,
  pwned: window.__pwned || null,
  title: document.title,
};
const out = document.createElement('pre');
out.id = 'probe';
out.textContent = JSON.stringify(probe);
document.body.appendChild(out);
</script>
"""

PLOT_HEIGHT = 220  # the chart's plot area in CSS pixels (eval/reports/html.py)


def make_runs(tmp_path: Path) -> tuple[Path, Path]:
    """'good': 9 of 12 right; 'bad': 3 of 12 right, one prediction hostile."""
    good = [question_row(i, correct=int(i not in (1, 5, 7))) for i in range(12)]
    bad = [question_row(i, correct=int(i in (0, 6, 11))) for i in range(12)]
    bad[2]["generated_query"] = HOSTILE_SQL
    bad[2]["error_msg"] = "not run: </td></tr></table><h1>broken</h1>"
    return (
        write_run(tmp_path / "good.csv", good, {"runner": "oracle", "model": "m-good"}),
        write_run(tmp_path / "bad.csv", bad, {"runner": "file", "model": HOSTILE_MODEL}),
    )


def test_report_escapes_everything_it_shows(tmp_path):
    good, bad = make_runs(tmp_path)
    out = tmp_path / "report.html"
    assert main(["report", str(good), str(bad), "-o", str(out)]) == 0
    text = out.read_text()
    assert f'content="{html.escape(CSP)}"' in text
    assert "<script" not in text.lower() and "<img" not in text.lower() and "<h1>broken" not in text
    assert html.escape(HOSTILE_SQL) in text
    assert html.escape("</td></tr></table><h1>broken</h1>") in text
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text
    # 3 + 9 failed questions, each listed with its gold and generated SQL
    assert text.count('<tr class="failure">') == 12


def find_browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def dump_dom(browser: str, page: Path, profile: Path) -> str:
    proc = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--window-size=1400,1000",
            f"--user-data-dir={profile}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture
def browser() -> str:
    path = find_browser()
    if path is None:
        if os.environ.get("SQLHARNESS_REQUIRE_BROWSER") == "1":
            pytest.fail("SQLHARNESS_REQUIRE_BROWSER=1 but no Chromium is installed")
        pytest.skip("no Chromium installed (set SQLHARNESS_REQUIRE_BROWSER=1 to require it)")
    return path


def test_report_renders_in_a_headless_browser(tmp_path, browser):
    good, bad = make_runs(tmp_path)
    report = tmp_path / "report.html"
    assert main(["report", str(good), str(bad), "-o", str(report)]) == 0
    text = report.read_text()
    csp_meta = f'<meta http-equiv="Content-Security-Policy" content="{html.escape(CSP)}">'
    assert csp_meta in text
    probed = tmp_path / "probed.html"
    probed.write_text(text.replace(csp_meta, "").replace("</body>", PROBE + "</body>"))

    dom = dump_dom(browser, probed, tmp_path / "profile")
    match = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert match, "the probe script did not run: " + dom[-2000:]
    probe = json.loads(html.unescape(match.group(1)))

    # the leaderboard: one laid-out row per run, best first
    assert [r[0] for r in probe["rows"]] == ["good", "bad"]
    assert all(width > 0 and height > 0 for _, width, height in probe["rows"])
    # the chart: 7 groups (overall + 6 categories) x 2 runs, heights proportional to accuracy
    assert probe["chart"][0] > 0 and probe["chart"][1] > PLOT_HEIGHT
    heights = {(run, category): (w, h) for run, category, w, h in probe["bars"]}
    assert len(heights) == 14
    assert heights[("good", "overall")][1] == pytest.approx(PLOT_HEIGHT * 9 / 12, abs=0.6)
    assert heights[("bad", "overall")][1] == pytest.approx(PLOT_HEIGHT * 3 / 12, abs=0.6)
    assert heights[("good", "date")][1] == pytest.approx(PLOT_HEIGHT, abs=0.6)  # questions 0 and 6
    assert heights[("bad", "group_by")][1] == 0  # questions 1 and 7: both wrong
    assert all(w > 0 for w, _ in heights.values())
    # the failed questions are listed, and nothing hostile ran or became an element
    assert probe["failures"] == 12
    assert probe["pwned"] is None and probe["images"] == 0
    assert probe["title"].startswith("sqlharness report")
    assert html.escape(HOSTILE_SQL, quote=False) in dom


def test_report_is_self_contained_with_its_policy(tmp_path, browser):
    """Opened as written (CSP on), the report still lays out; no request leaves the page."""
    good, bad = make_runs(tmp_path)
    report = tmp_path / "report.html"
    assert main(["report", str(good), str(bad), "-o", str(report)]) == 0
    dom = dump_dom(browser, report, tmp_path / "profile")
    assert dom.count('class="bar"') == 14
    assert "<img" not in dom


def test_each_run_keeps_its_colour_when_a_file_is_named_twice(tmp_path):
    good, bad = make_runs(tmp_path)
    out = tmp_path / "report.html"
    # good.json names good.csv: two runs with one path, which must not share a colour.
    assert main(["report", str(good), str(good.with_suffix(".json")), str(bad), "-o", str(out)]) == 0
    text = out.read_text()
    table = text[text.index('id="leaderboard"') : text.index("</table>")]
    legend = text[text.index('class="legend"') :]
    swatch = re.compile(r'class="swatch" style="background:(#[0-9A-Fa-f]{6})"')
    legend_colours = swatch.findall(legend)[:3]
    assert len(set(legend_colours)) == 3
    # Table order: good (9/12) twice, in argument order, then bad (3/12).
    assert swatch.findall(table) == legend_colours


def test_max_failures_caps_each_run_and_refuses_a_negative(tmp_path, capsys):
    good, bad = make_runs(tmp_path)
    out = tmp_path / "report.html"
    assert main(["report", str(good), str(bad), "--max-failures", "2", "-o", str(out)]) == 0
    text = out.read_text()
    assert text.count('<tr class="failure">') == 4  # 2 of good's 3, 2 of bad's 9
    assert "1 more not shown" in text and "7 more not shown" in text
    out.unlink()
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(good), "--max-failures", "-1", "-o", str(out)])
    assert exit_info.value.code == 2
    assert "--max-failures" in capsys.readouterr().err
    assert not out.exists()
