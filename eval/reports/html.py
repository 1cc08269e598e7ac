"""The HTML report (``python main.py report``): one self-contained file.

Inline CSS and an inline SVG chart drawn here in Python; no script, no font, no image from
anywhere, so the file opens offline and can be attached to a CI run. Every piece of text
from a results file is escaped (generated SQL is untrusted: a ``<script>`` in a prediction
must show as text), and a Content-Security-Policy forbids scripts and network access as a
second line of defence.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence
from html import escape
from pathlib import Path

from eval import __version__
from eval.categories import CATEGORIES
from eval.cli import non_negative_int
from eval.output import atomic_write_text
from eval.reports.leaderboard import (
    leaderboard_row,
    load_runs,
    mixed_sets_warning,
    percent,
    ranked,
    warn_about,
)
from eval.reports.runs import Run, RunRow
from eval.reports.stats import RunStats, category_order

CSP = "default-src 'none'; style-src 'unsafe-inline'"
# Okabe-Ito, then darker tones: distinguishable with the common colour-vision deficiencies.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
    "#7F7F7F",
    "#8C564B",
)

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em; color: #1a1a1a; }
h1 { font-size: 1.5em; } h2 { margin-top: 2em; } h3 { margin-bottom: .3em; }
.meta { color: #555; }
.warning { background: #fff4d6; border: 1px solid #e0b000; padding: .6em 1em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #d0d0d0; padding: .25em .5em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.run { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.failures td { max-width: 40em; }
pre { margin: 0; white-space: pre-wrap; word-break: break-word; font-size: 12px; }
.swatch { display: inline-block; width: .8em; height: .8em; margin-right: .3em; }
.why { color: #8a1c1c; }
"""


def render(runs: Sequence[Run], *, max_failures: int = 500, generated_at: str | None = None) -> str:
    """The whole report as one HTML string."""
    board = ranked(runs)
    stats = {id(run): s for _, run, s in board}
    when = generated_at or dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    warning = mixed_sets_warning(runs)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{escape(CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>sqlharness report: {len(runs)} run(s)</title><style>{STYLE}</style></head><body>",
        "<h1>Text-to-SQL evaluation report</h1>",
        f'<p class="meta">{len(runs)} run(s); generated {escape(when)} by sqlharness {escape(__version__)}. '
        "Accuracy counts questions whose gold query ran; the interval is the 95% Wilson score interval.</p>",
        f'<p class="warning" id="mixed-sets">{escape(warning)}</p>' if warning else "",
        "<h2>Leaderboard</h2>",
        leaderboard_table(runs, board),
        "<h2>Accuracy by category</h2>",
        category_chart(runs, stats),
        "<h2>Failed questions</h2>",
        *(failures_section(i, run, stats[id(run)], max_failures) for i, run in enumerate(runs)),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


# --------------------------------------------------------------------------- leaderboard


def leaderboard_table(runs: Sequence[Run], board: Sequence[tuple[int, Run, RunStats]]) -> str:
    """The ``board`` (from :func:`ranked`) as a table; ``runs`` in argument order set the colours."""
    # Keyed by the run, not its path: one file may be named twice (X.csv and X.json).
    colours = {id(run): PALETTE[i % len(PALETTE)] for i, run in enumerate(runs)}
    headers = [
        "#",
        "run",
        "model",
        "runner",
        "prompt",
        "beams",
        "n",
        "accuracy",
        "95% CI",
        *CATEGORIES,
        "suite",
        "SQL match",
        "exec errors",
        "timeouts",
        "cut off",
        "gen. failed",
        "latency (s)",
        "tokens",
        "date",
        "question set",
    ]
    body = []
    for rank, run, run_figures in board:
        row = leaderboard_row(rank, run, run_figures)
        ci = ""
        if row["accuracy_ci95_low"] != "":
            ci = f"{percent(row['accuracy_ci95_low'])} – {percent(row['accuracy_ci95_high'])}"
        swatch = f'<span class="swatch" style="background:{colours[id(run)]}"></span>'
        cells = [
            _num(row["rank"]),
            f'<td class="run" title="{escape(row["results_file"])}">{swatch}{escape(row["run"])}</td>',
            _td(row["model"]),
            _td(row["runner"]),
            _td(row["prompt_file"]),
            _num(row["num_beams"]),
            _num(row["n"]),
            _num(percent(row["accuracy"])),
            _num(ci),
            *(_num(percent(row[f"accuracy_{c}"])) for c in CATEGORIES),
            _num(percent(row["suite_accuracy"])),
            _num(percent(row["sql_exact_match"])),
            _num(percent(row["error_rate"])),
            _num(percent(row["timeout_rate"])),
            _num(percent(row["truncated_rate"])),
            _num(percent(row["generation_error_rate"])),
            _num("" if row["latency_mean_s"] == "" else f"{row['latency_mean_s']:.3f}"),
            _num(row["total_tokens"]),
            _td(row["created_at"]),
            _td(row["question_set"]),
        ]
        body.append(f'<tr class="run-row">{"".join(cells)}</tr>')
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return (
        f'<div class="scroll"><table id="leaderboard"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _td(value: object) -> str:
    return f"<td>{escape(str(value))}</td>"


def _num(value: object) -> str:
    return f'<td class="num">{escape(str(value))}</td>'


# --------------------------------------------------------------------------- chart


def chart_categories(stats: Sequence[RunStats]) -> list[str]:
    return ["overall", *category_order(c for s in stats for c in s.by_category)]


def category_chart(runs: Sequence[Run], stats: dict[int, RunStats]) -> str:
    """Grouped bars: one group per category (overall first), one bar per run."""
    ordered = [stats[id(run)] for run in runs]
    groups = chart_categories(ordered)
    bar = max(6, min(28, 180 // max(1, len(runs))))
    gap, left, top, plot_h = 18, 44, 16, 220
    group_w = bar * len(runs) + gap
    width = left + group_w * len(groups) + 10
    height = top + plot_h + 40
    parts = [
        f'<svg id="category-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="accuracy per category and run">'
    ]
    for tick in range(0, 101, 25):
        y = top + plot_h * (1 - tick / 100)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#e2e2e2"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{tick}%</text>')
    for g, category in enumerate(groups):
        x0 = left + g * group_w + gap / 2
        for r, (run, s) in enumerate(zip(runs, ordered)):
            parts.append(_bar(run, r, s, category, x0 + r * bar, bar, top, plot_h))
        label_x = x0 + bar * len(runs) / 2
        parts.append(
            f'<text x="{label_x:.1f}" y="{top + plot_h + 16}" font-size="12" text-anchor="middle">'
            f"{escape(category or '(none)')}</text>"
        )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="legend-item"><span class="swatch" style="background:{PALETTE[i % len(PALETTE)]}"></span>'
        f"{escape(run.name)}</span> "
        for i, run in enumerate(runs)
    )
    return f'<div class="scroll">{"".join(parts)}</div><p class="legend">{legend}</p>'


def _bar(run: Run, index: int, s: RunStats, category: str, x: float, w: int, top: int, plot_h: int) -> str:
    if category == "overall":
        correct, n = s.correct, s.n
    else:
        tally = s.by_category.get(category)
        correct, n = (tally.correct, tally.n) if tally else (0, 0)
    if not n:
        return ""
    h = plot_h * correct / n
    tip = f"{run.name}: {category} {correct}/{n} ({correct / n:.1%})"
    rect = (
        f'<rect class="bar" data-run="{escape(run.name)}" data-category="{escape(category)}" '
        f'x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{w - 2}" height="{h:.1f}" '
        f'fill="{PALETTE[index % len(PALETTE)]}"><title>{escape(tip)}</title></rect>'
    )
    if w < 16:  # too narrow for a label; the tooltip and the table carry the figure
        return rect
    label_y = top + plot_h - h - 3
    return rect + (
        f'<text x="{x + (w - 2) / 2:.1f}" y="{label_y:.1f}" font-size="9" text-anchor="middle" '
        f'fill="#333">{100 * correct / n:.0f}</text>'
    )


# --------------------------------------------------------------------------- failures


def failures_section(index: int, run: Run, stats: RunStats, max_failures: int) -> str:
    failed = [r for r in run.rows if not r.correct]
    shown = failed[:max_failures] if max_failures else failed
    wrong = sum(1 for r in failed if r.scored)
    title = f"{run.name}: {wrong} wrong of {stats.n}"
    if stats.gold_errors:
        title += f"; {stats.gold_errors} gold error(s), not counted"
    rows = "".join(_failure_row(r) for r in shown)
    more = (
        f'<p class="meta">{len(failed) - len(shown)} more not shown (see {escape(str(run.path))}).</p>'
        if len(shown) < len(failed)
        else ""
    )
    table = (
        '<table class="failures"><thead><tr><th>row</th><th>db</th><th>category</th><th>question</th>'
        f"<th>gold SQL</th><th>generated SQL</th><th>why wrong</th></tr></thead><tbody>{rows}</tbody></table>"
        if shown
        else '<p class="meta">No failed questions.</p>'
    )
    return (
        f'<section class="run-failures" id="run-{index + 1}"><h3>{escape(title)}</h3>'
        f'<p class="meta">{escape(str(run.path))}</p>'
        f'<div class="scroll">{table}</div>{more}</section>'
    )


def _failure_row(row: RunRow) -> str:
    return (
        f'<tr class="failure">{_num(row.position + 2)}{_td(row.db_name)}{_td(row.category)}'
        f"{_td(row.question)}<td><pre>{escape(row.gold)}</pre></td>"
        f"<td><pre>{escape(row.generated)}</pre></td>"
        f'<td class="why">{escape(row.why_wrong)}</td></tr>'
    )


def report_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="main.py report",
        description="A self-contained HTML report over one or more runs (docs/reports.md).",
    )
    parser.add_argument(
        "results", nargs="+", type=Path, help="results CSVs (the summary JSON is read beside each)"
    )
    parser.add_argument("-o", "--output", type=Path, default=Path("report.html"), help="default: %(default)s")
    parser.add_argument(
        "--max-failures",
        type=non_negative_int,
        default=500,
        help="failed questions listed per run, 0 for all (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    runs = load_runs(args.results)
    warn_about(runs)
    atomic_write_text(args.output, render(runs, max_failures=args.max_failures))
    print(f"report: {args.output}")
    return 0
