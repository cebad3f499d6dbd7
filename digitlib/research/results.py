"""The README's results table, written from the files in `reports/` so that the README keeps no
numbers of its own.

    python -m digitlib results           # rewrite the table in README.md from reports/
    python -m digitlib results --check   # exit 1 when README.md's table is not what reports/ say

`make run` and `make bench` rewrite it after they measure; a test fails when it is stale.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from digitlib import config
from digitlib.pictures import number_tables

README = config.PROJ_ROOT / "README.md"
START = "<!-- results: written by `python -m digitlib results` from reports/; do not edit by hand -->"
END = "<!-- end of results -->"


def _read(name: str) -> Any:
    return json.loads((config.REPORTS_DIR / name).read_text())


def _percent(share: float, digits: int = 2) -> str:
    return f"{100 * share:.{digits}f} %"


def _spread(values: list[float]) -> str:
    return f"{_percent(statistics.mean(values))} mean, {_percent(min(values))}–{_percent(max(values))}"


def _reading(tta_shifts: int) -> str:
    return f"with test-time augmentation ({tta_shifts} shifts)" if tta_shifts else "read once per picture"


def _benchmark_rows() -> list[tuple[str, str, str]]:
    source = "`reports/benchmarks.md`"
    bench = _read("benchmarks.json")
    runs: dict[str, list[dict[str, Any]]] = {}
    for run in bench["runs"]:
        runs.setdefault(run["preset"], []).append(run)
    seeds = len(runs.get("default", []))
    baseline_seconds = statistics.median(r["train_seconds"] for r in runs["baseline"])

    def ratio(preset: str) -> str:
        seconds = statistics.median(r["train_seconds"] for r in runs[preset])
        return f"{seconds / baseline_seconds:.2f}x"

    def accuracies(preset: str, key: str = "test_accuracy") -> list[float]:
        return [r[key] for r in runs[preset]]

    rows = [
        (
            f"the default over {seeds} seeds (`make bench`)",
            f"{_spread(accuracies('default'))} read once; **{_spread(accuracies('default', 'test_accuracy_tta'))}** "
            "with TTA",
            source,
        ),
        (
            'the Keras "Simple MNIST convnet" recipe, same run',
            f"{_spread(accuracies('baseline'))} read once; "
            f"{_spread(accuracies('baseline', 'test_accuracy_tta'))} with TTA",
            source,
        ),
        (
            "the quick preset (`params/quick.yaml`), same run",
            f"{_spread(accuracies('quick'))} read once; {_spread(accuracies('quick', 'test_accuracy_tta'))} with TTA; "
            f"in {ratio('quick')} the Keras recipe's training time",
            source,
        ),
        ("the default's training time", f"{ratio('default')} the Keras recipe's (same machine, same run)", source),
    ]
    if bench.get("ensemble"):
        ensemble = bench["ensemble"]
        seconds = ensemble["train_seconds"] / baseline_seconds
        rows.append(
            (
                f"ensemble of the {ensemble['members']} default runs (`params/best.yaml`)",
                f"{_percent(ensemble['test_accuracy'])} read once; {_percent(ensemble['test_accuracy_tta'])} with TTA; "
                f"in {seconds:.2f}x the Keras recipe's training time",
                source,
            )
        )
    return rows


def _sweep_rows() -> list[tuple[str, str, str]]:
    import pandas as pd

    from digitlib.research import sweep

    full = sweep.summarize(sweep.read_table(config.REPORTS_DIR / "sweeps" / "ablation-full.csv")).loc["default"]
    budget = pd.read_csv(config.REPORTS_DIR / "06_budget.csv", index_col="variant")
    speed = pd.read_csv(config.REPORTS_DIR / "06_speed.csv", index_col="variant")
    tuning = pd.read_csv(config.REPORTS_DIR / "06_quick_tuning.csv", index_col="variant")
    ablation = pd.read_csv(config.REPORTS_DIR / "06_ablation.csv", index_col="variant")
    variants = ablation.drop(index="default")
    beyond = variants[variants["within_noise"] == False]  # noqa: E712 (a column of True, False and NaN)
    verdict = "within noise" + (
        "" if beyond.empty else " but " + "; ".join(_paired(n, r) for n, r in beyond.iterrows())
    )
    low, high = int(variants["seeds"].min()), int(variants["seeds"].max())
    seeds = f"{low} seeds" if low == high else f"{low}–{high} seeds"
    return [
        (
            f"the 30-epoch recipe (the default before the budget sweep) on validation, {int(full['seeds'])} seeds",
            f"{_percent(full['mean'])} mean, {_percent(full['low'])}–{_percent(full['high'])} (95 % interval)",
            "`reports/sweeps/ablation-full.csv`",
        ),
        (
            f"20 epochs against 30 on validation, {int(budget.loc['epochs-20', 'seeds'])} seeds, paired",
            f"read once {_paired('', budget.loc['epochs-20'])}; "
            f"with TTA {_paired('', budget.loc['epochs-20 + TTA 8'])}",
            "`reports/06_budget.csv` (notebook 06)",
        ),
        (
            f"18 epochs against 20 on validation, {int(speed.loc['epochs-18', 'seeds'])} seeds, paired",
            f"read once {_paired('', speed.loc['epochs-18'])}; with TTA {_paired('', speed.loc['epochs-18 + TTA 8'])}",
            "`reports/06_speed.csv` (notebook 06)",
        ),
        (
            "the quick preset in batches of 512 against 256 on validation, "
            f"{int(speed.loc['quick-batch-512', 'seeds'])} seeds, paired",
            _paired("", speed.loc["quick-batch-512"]),
            "`reports/06_speed.csv` (notebook 06)",
        ),
        (
            "the quick preset with dropout 0.1 against 0.3 on validation, "
            f"{int(tuning.loc['dropout-0.1', 'seeds'])} seeds, paired",
            _paired("", tuning.loc["dropout-0.1"]),
            "`reports/06_quick_tuning.csv` (notebook 06)",
        ),
        (
            f"the ablation: {len(variants)} one-at-a-time changes, {seeds} each, paired",
            verdict,
            "`reports/06_ablation.csv` (notebook 06)",
        ),
    ]


def _paired(name: str, row: Any) -> str:
    """A paired difference in points with its interval: 'dropout-0 +0.18 points [+0.00, +0.36]'."""
    return (
        f"{name} {100 * row['difference']:+.2f} points "
        f"[{100 * row['difference_low']:+.2f}, {100 * row['difference_high']:+.2f}]"
    ).strip()


def _elsewhere(metrics: dict[str, Any]) -> dict[str, Any]:
    """04's pictures from other sources, without its per-delivery rows of test digits."""
    return {k: v for k, v in metrics["pictures_from_elsewhere"].items() if not k.startswith("test digits")}


def _gap_name(gap: int) -> str:
    return f"overlapping {-gap} px" if gap < 0 else "side by side" if gap == 0 else f"{gap} px apart"


def _calibration_row(metrics: dict[str, Any]) -> tuple[str, str, str]:
    calibration = metrics["calibration"]
    return (
        "calibration (expected calibration error on test)",
        f"read once, as the interface shows it: {_percent(calibration['read_once_ece'])}, "
        f"{_percent(calibration['read_once_calibrated_ece'])} at temperature {calibration['temperature']:g} "
        f"(fitted on validation); with TTA: {_percent(calibration['tta_ece'])}",
        "`reports/metrics.json`",
    )


SHAPE_CHECK_NAMES = {
    "every": "every digit",
    "cut": "only the digits from parts wider than the line",
    "none": "no digit",
}


def _number_checks_row(interface: dict[str, Any]) -> tuple[str, str, str]:
    checks = interface["number_checks"]
    chosen, every = checks["outcomes"][checks["chosen"]], checks["outcomes"]["every"]
    return (
        f'the "?" on the digits of a number, chosen on validation numbers ({checks["validation_numbers"]:,} '
        f"readings of the held-out runs' numbers, each at {len(number_tables.NUMBER_GAPS)} gaps)",
        f"shape checks on {SHAPE_CHECK_NAMES[checks['chosen']]}: {_percent(chosen['read_exactly'], 1)} read "
        f'exactly, {_percent(chosen["read_wrong_without_a_question_mark"], 1)} wrong without a "?" '
        f"(on every digit: {_percent(every['read_exactly'], 1)} and "
        f"{_percent(every['read_wrong_without_a_question_mark'], 1)})",
        "`reports/05_interface.json` (notebook 05)",
    )


def _number_reader_row(reader: dict[str, Any]) -> tuple[str, str, str]:
    def by_gap(rows: list[dict[str, Any]]) -> str:
        return ", ".join(_percent(row["read_exactly"], 0) for row in rows)

    gaps = ", ".join(_gap_name(row["gap"]) for row in reader["with_the_reader"])
    return (
        f"numbers of 2-5 held-out validation digits read exactly ({reader['validation_numbers_per_gap']} per gap: "
        f"{gaps}), touching digits read by the number reader (notebook 03b)",
        f'{by_gap(reader["with_the_reader"])} with its "?" below {reader["chosen_unsure_below"]:.2f}; '
        f"cutting them apart instead: {by_gap(reader['cut_apart'])}",
        "`reports/03b_number_reader.json` (notebook 03b)",
    )


def _reader_variants_row(measured: dict[str, Any]) -> tuple[str, str, str]:
    if measured.get("smoke"):
        raise ValueError("reports/reader_variants.json holds a smoke run: rerun benchmarks/reader_variants.py in full")
    touching = ", ".join(gap for gap in measured["variants"][0]["by_gap"] if int(gap) <= 0)
    figures = "; ".join(
        f"{row['variant']}: {_percent(row['touching_read_exactly'], 0)}" for row in measured["variants"]
    )
    return (
        f"number reader variants: numbers of 2-5 held-out validation digits with gaps of {touching} px "
        f"({measured['validation_numbers_per_gap']} per gap) read exactly by the reader alone, one seed each "
        f"(on {measured['device']})",
        figures,
        "`reports/reader_variants.json` (`benchmarks/reader_variants.py`, notebook 03b)",
    )


def rows() -> list[tuple[str, str, str]]:
    """(what, the figure, the file it comes from) for each line of the README's results table."""
    metrics = _read("metrics.json")
    rule = metrics["interface_rule"]
    interface = _read("05_interface.json")
    chosen = interface["held_out_outcomes"]
    return [
        (
            "test accuracy of the rendered default run (notebook 04)",
            f"**{_percent(metrics['accuracy'])}** {_reading(metrics.get('tta_shifts', 0))} "
            f"({metrics['mistakes']} mistakes in {metrics['test_images']:,}), loss {metrics['loss']:.4f}"
            + (f"; read once: {_percent(metrics['single_view_accuracy'])}" if metrics.get("tta_shifts") else ""),
            "`reports/metrics.json`",
        ),
        *_benchmark_rows(),
        _calibration_row(metrics),
        (
            f"{rule['digit_samples']:,} test digits delivered as picture files (9 ways)",
            f"{_percent(rule['digit_accuracy'], 1)} read right; "
            f'{_percent(rule["digits_flagged"], 1)} flagged "not sure"',
            "`reports/metrics.json`",
        ),
        (
            f"{rule['non_digit_samples']} generated pictures that are not digits, flagged",
            _percent(rule["non_digits_flagged"], 0),
            "`reports/metrics.json`",
        ),
        (
            'pictures from other sources, flagged "not sure" (notebook 04; none set a threshold, '
            "though Fashion-MNIST informed which scores the rule reads)",
            "; ".join(f"{name}: {_percent(row['flagged'], 1)}" for name, row in _elsewhere(metrics).items()),
            "`reports/metrics.json`",
        ),
        (
            "one picture file through preprocess + predict, the interface's path (notebook 04)",
            "p50 {picture_p50_ms:.1f} ms, p99 {picture_p99_ms:.1f} ms".format(**metrics["throughput"]),
            "`reports/metrics.json`",
        ),
        (
            f"numbers of 2-5 test digits read exactly ({metrics['numbers'][0]['numbers']} per gap)",
            "; ".join(f"{_gap_name(row['gap'])} {_percent(row['read_exactly'], 0)}" for row in metrics["numbers"]),
            "`reports/metrics.json`",
        ),
        (
            f"the interface's thresholds, chosen on {interface['held_out_digits']:,} held-out validation digits",
            f"flag {_percent(chosen['correct_flagged'], 1)} of right answers, "
            f"{_percent(chosen['non_digits_flagged'], 0)} of validation non-digits (generated, photo crops)",
            "`reports/05_interface.json` (notebook 05)",
        ),
        _number_reader_row(_read("03b_number_reader.json")),
        _reader_variants_row(_read("reader_variants.json")),
        _number_checks_row(interface),
        *_sweep_rows(),
    ]


def table() -> str:
    """The results table, in Markdown, between its markers."""
    lines = [START, "", "| | | from |", "| --- | --- | --- |"]
    lines += [f"| {what} | {figure} | {source} |" for what, figure, source in rows()]
    return "\n".join(lines + ["", END])


def update_readme(path: Path = README, check: bool = False) -> bool:
    """Write the current table into `path` between the markers; with `check`, only compare.
    Returns whether the file already held the current table."""
    text = path.read_text()
    if START not in text or END not in text:
        raise ValueError(f"{path} has no results markers ({START!r} ... {END!r})")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    current = head + table() + tail
    if current == text:
        return True
    if not check:
        path.write_text(current)
    return False


def _results_command(args: argparse.Namespace) -> int:
    fresh = update_readme(check=args.check)
    if args.check:
        print(
            "README.md's results table matches reports/"
            if fresh
            else "README.md's results table is stale: run `python -m digitlib results`"
        )
        return 0 if fresh else 1
    print("README.md's results table: " + ("unchanged" if fresh else "rewritten from reports/"))
    return 0


def add_command(commands: Any) -> None:
    command = commands.add_parser("results", help="write the README's results table from reports/")
    command.add_argument("--check", action="store_true", help="only check that the table is current")
    command.set_defaults(handler=_results_command)
