"""The regression gate: ``python main.py compare BASELINE.csv CANDIDATE.csv``.

Questions are paired by ``(db_name, question)``; a key that occurs several times (the
``file`` runner evaluates every row it is given) pairs by occurrence order, the k-th with
the k-th. Both runs must hold exactly the same keys, as often, with the same gold SQL:
otherwise they are not comparable (exit 2). A pair where either side's gold failed is left
out of every figure, so both accuracies are over the same questions.

The candidate fails the gate (exit 1) when its accuracy is lower by more than
``--max-drop`` (a fraction: 0.02 is two points), or when it is significantly lower by
McNemar's exact test at ``--alpha`` (p < alpha and more questions broke than were fixed).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.errors import BadInput
from eval.reports.runs import Run, RunRow, load_run
from eval.reports.stats import by_category, direction, mcnemar_exact

# Tolerance for comparing a drop with --max-drop: 0.50 - 0.48 is 0.020000000000000018 in
# floating point, which must not fail a gate set at 0.02.
_EPSILON = 1e-12

PairKey = tuple[str, str, int]


@dataclass(frozen=True)
class Pair:
    key: PairKey
    """(db_name, question, occurrence): occurrence counts from 0 in file order."""
    baseline: RunRow
    candidate: RunRow

    @property
    def category(self) -> str:
        return self.baseline.category


@dataclass(frozen=True)
class CategoryDelta:
    n: int
    baseline: float
    candidate: float

    @property
    def delta(self) -> float:
        return self.candidate - self.baseline


@dataclass(frozen=True)
class Comparison:
    baseline: Run
    candidate: Run
    pairs: tuple[Pair, ...]
    """The scored pairs (gold ran on both sides)."""
    excluded: int
    """Pairs left out because a gold query failed on either side."""

    @property
    def n(self) -> int:
        return len(self.pairs)

    @property
    def broke(self) -> tuple[Pair, ...]:
        """Right in the baseline, wrong in the candidate (McNemar's b)."""
        return tuple(p for p in self.pairs if p.baseline.correct and not p.candidate.correct)

    @property
    def fixed(self) -> tuple[Pair, ...]:
        """Wrong in the baseline, right in the candidate (McNemar's c)."""
        return tuple(p for p in self.pairs if p.candidate.correct and not p.baseline.correct)

    @property
    def baseline_accuracy(self) -> float:
        return sum(p.baseline.correct for p in self.pairs) / self.n

    @property
    def candidate_accuracy(self) -> float:
        return sum(p.candidate.correct for p in self.pairs) / self.n

    @property
    def delta(self) -> float:
        """Candidate minus baseline accuracy (negative: the candidate is worse)."""
        return (len(self.fixed) - len(self.broke)) / self.n

    @property
    def p_value(self) -> float:
        return mcnemar_exact(len(self.broke), len(self.fixed))

    @property
    def direction(self) -> str:
        return direction(len(self.broke), len(self.fixed))

    def by_category(self) -> dict[str, CategoryDelta]:
        """Per category of the baseline's rows (the candidate's file may label them otherwise)."""
        deltas = {}
        for category in by_category([p.baseline for p in self.pairs]):
            group = [p for p in self.pairs if p.category == category]
            deltas[category] = CategoryDelta(
                len(group),
                sum(p.baseline.correct for p in group) / len(group),
                sum(p.candidate.correct for p in group) / len(group),
            )
        return deltas


@dataclass(frozen=True)
class GateOptions:
    max_drop: float = 0.02
    alpha: float = 0.05


def keyed_rows(run: Run) -> dict[PairKey, RunRow]:
    seen: Counter[tuple[str, str]] = Counter()
    keyed: dict[PairKey, RunRow] = {}
    for row in run.rows:
        keyed[(*row.key, seen[row.key])] = row
        seen[row.key] += 1
    return keyed


def pair_runs(baseline: Run, candidate: Run) -> Comparison:
    """Pair the two runs' rows, or raise BadInput saying why they cannot be compared."""
    for run in (baseline, candidate):
        refuse_failed_generations(run)
    before, after = keyed_rows(baseline), keyed_rows(candidate)
    only_before = [k for k in before if k not in after]
    only_after = [k for k in after if k not in before]
    if only_before or only_after:
        raise BadInput(
            "runs cannot be compared: different question sets: "
            f"{_count_and_first(only_before)} only in {baseline.path}; "
            f"{_count_and_first(only_after)} only in {candidate.path}"
        )
    changed = [k for k in before if before[k].gold != after[k].gold]
    if changed:
        raise BadInput(
            f"runs cannot be compared: the gold SQL differs for {_count_and_first(changed)} "
            "(different benchmark versions)"
        )
    pairs = [Pair(k, before[k], after[k]) for k in before]
    scored = tuple(p for p in pairs if p.baseline.scored and p.candidate.scored)
    if not scored:
        raise BadInput("runs cannot be compared: no question whose gold ran in both runs")
    return Comparison(baseline, candidate, scored, excluded=len(pairs) - len(scored))


def refuse_failed_generations(run: Run) -> None:
    """BadInput when some of ``run``'s generations failed: gating it would blame the model for
    an outage or a setting (a server down, a context too small)."""
    failed = [r for r in run.rows if r.generation_error]
    if failed:
        first = failed[0]
        raise BadInput(
            f"runs cannot be compared: {run.path} has {len(failed)} failed generation(s) "
            f"(first: {first.db_name}: {_short(first.question)!r}: {_short(first.generation_error, 120)}); "
            "fix the cause and rerun it (only the failed ones are generated again)"
        )


def _count_and_first(keys: Sequence[PairKey]) -> str:
    if not keys:
        return "0 questions"
    db_name, question, occurrence = keys[0]
    which = f" (occurrence {occurrence + 1})" if occurrence else ""
    return f"{len(keys)} question(s) (first: {db_name}: {_short(question)!r}{which})"


def _short(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def gate_failures(comparison: Comparison, options: GateOptions) -> list[str]:
    """Why the candidate fails the gate; empty when it passes."""
    reasons = []
    drop = -comparison.delta
    if drop > options.max_drop + _EPSILON:
        reasons.append(f"accuracy fell by {drop * 100:.1f} points, more than --max-drop {options.max_drop:g}")
    broke, fixed = len(comparison.broke), len(comparison.fixed)
    if broke > fixed and comparison.p_value < options.alpha:
        reasons.append(
            f"significantly lower: McNemar exact p = {comparison.p_value:.4g} < --alpha {options.alpha:g}"
        )
    return reasons


# --------------------------------------------------------------------------- output


def format_text(comparison: Comparison, options: GateOptions, reasons: Sequence[str]) -> str:
    c = comparison
    lines = [
        f"baseline:  {c.baseline.path}  {_describe(c.baseline)}",
        f"candidate: {c.candidate.path}  {_describe(c.candidate)}",
        f"paired questions: {c.n}" + (f" ({c.excluded} left out: a gold query failed)" if c.excluded else ""),
        f"overall: {c.baseline_accuracy:.1%} -> {c.candidate_accuracy:.1%} ({_points(c.delta)})",
        "",
        f"{'category':<12} {'n':>5} {'baseline':>9} {'candidate':>10} {'delta':>10}",
    ]
    for category, d in c.by_category().items():
        lines.append(
            f"{category or '(none)':<12} {d.n:>5} {d.baseline:>9.1%} {d.candidate:>10.1%} {_points(d.delta):>10}"
        )
    lines += ["", f"broke ({len(c.broke)}): right in the baseline, wrong in the candidate"]
    lines += [f"  {_label(p)}\n      {_short(p.candidate.why_wrong, 160)}" for p in c.broke]
    lines += [f"fixed ({len(c.fixed)}): wrong in the baseline, right in the candidate"]
    lines += [f"  {_label(p)}" for p in c.fixed]
    lines += [
        "",
        f"McNemar exact test: {len(c.broke)} broke, {len(c.fixed)} fixed, "
        f"two-sided p = {c.p_value:.4g} ({c.direction})",
        f"gate (--max-drop {options.max_drop:g}, --alpha {options.alpha:g}): "
        + ("FAIL: " + "; ".join(reasons) if reasons else "pass"),
    ]
    return "\n".join(lines)


def _describe(run: Run) -> str:
    what = " ".join(x for x in (run.meta.runner, run.meta.model) if x)
    return f"({what})" if what else ""


def _points(delta: float) -> str:
    return f"{delta * 100:+.1f} pts"


def _label(pair: Pair) -> str:
    db_name, question, occurrence = pair.key
    which = f" #{occurrence + 1}" if occurrence else ""
    return f"[{pair.category or '-'}] {db_name}: {question}{which}"


def to_json(comparison: Comparison, options: GateOptions, reasons: Sequence[str]) -> dict[str, Any]:
    c = comparison

    def side(run: Run, accuracy: float) -> dict[str, Any]:
        return {
            "results_file": str(run.path),
            "runner": run.meta.runner,
            "model": run.meta.model,
            "accuracy": accuracy,
        }

    def listed(pairs: Sequence[Pair]) -> list[dict[str, Any]]:
        return [
            {"db_name": p.key[0], "question": p.key[1], "occurrence": p.key[2], "category": p.category}
            for p in pairs
        ]

    return {
        "baseline": side(c.baseline, c.baseline_accuracy),
        "candidate": side(c.candidate, c.candidate_accuracy),
        "n": c.n,
        "excluded_gold_errors": c.excluded,
        "delta": c.delta,
        "by_category": {
            k: {"n": d.n, "baseline": d.baseline, "candidate": d.candidate, "delta": d.delta}
            for k, d in c.by_category().items()
        },
        "broke": listed(c.broke),
        "fixed": listed(c.fixed),
        "mcnemar": {"b": len(c.broke), "c": len(c.fixed), "p_value": c.p_value, "direction": c.direction},
        "max_drop": options.max_drop,
        "alpha": options.alpha,
        "passed": not reasons,
        "reasons": list(reasons),
    }


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def compare_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="main.py compare",
        description="Regression gate between two runs over the same questions (docs/reports.md). "
        "Exit 0 pass, 1 the candidate is worse, 2 the runs cannot be compared.",
    )
    parser.add_argument("baseline", type=Path, help="the baseline's results CSV")
    parser.add_argument("candidate", type=Path, help="the candidate's results CSV")
    parser.add_argument(
        "--max-drop",
        type=_fraction,
        default=0.02,
        help="largest accuracy drop allowed, as a fraction (default: %(default)s)",
    )
    parser.add_argument(
        "--alpha",
        type=_fraction,
        default=0.05,
        help="significance level for McNemar's test (default: %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    args = parser.parse_args(argv)
    options = GateOptions(max_drop=args.max_drop, alpha=args.alpha)
    comparison = pair_runs(load_run(args.baseline), load_run(args.candidate))
    reasons = gate_failures(comparison, options)
    if args.json:
        print(json.dumps(to_json(comparison, options, reasons), indent=2))
    else:
        print(format_text(comparison, options, reasons))
    if reasons:
        print(f"regression: {'; '.join(reasons)}", file=sys.stderr)
    return 1 if reasons else 0
