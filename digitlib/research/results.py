"""The README's figures, written from the files in `reports/` so that the README keeps no numbers
of its own: each block between `<!-- results:NAME -->` and `<!-- end of results -->` is rewritten
from the report it names.

    python -m digitlib results           # rewrite the README's blocks from reports/
    python -m digitlib results --check   # exit 1 when a block is not what reports/ say

`make run` and `make bench` rewrite them after they measure; a test fails when one is stale.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from digitlib import config, evaluation

README = config.PROJ_ROOT / "README.md"
START_MARK = "<!-- results:"
END = "<!-- end of results -->"
MARKER = re.compile(r"<!-- results:(\w+) -->\n.*?\n<!-- end of results -->", re.S)


def _read(name: str) -> Any:
    return json.loads((config.REPORTS_DIR / name).read_text())


def _percent(share: float, digits: int = 2) -> str:
    return f"{100 * share:.{digits}f} %"


def _mean_sd(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.2f} ± {100 * spread:.2f} %"


def _by_preset() -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {}
    for run in _read("benchmarks.json")["runs"]:
        runs.setdefault(run["preset"], []).append(run)
    return runs


def time_ratios(runs: dict[str, list[dict[str, Any]]], preset: str, baseline: str = "baseline") -> list[float]:
    """`preset`'s training time over the baseline's, seed by seed (the benchmark interleaves them,
    so each pair ran at the same moment of the machine's drifting speed)."""
    base = {run["seed"]: run["train_seconds"] for run in runs[baseline]}
    return [run["train_seconds"] / base[run["seed"]] for run in runs[preset] if run["seed"] in base]


def ratio_text(ratios: list[float]) -> str:
    """The median of paired ratios and their range, written as 'MEDIANx (LOW–HIGHx)'."""
    return f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}–{max(ratios):.2f}x)"


def _readings(rows: list[dict[str, Any]], tta: str = "with test-time augmentation") -> str:
    once = [row["test_accuracy"] for row in rows]
    augmented = [row["test_accuracy_tta"] for row in rows]
    return f"{_mean_sd(once)} read once, {_mean_sd(augmented)} {tta}"


def headline() -> str:
    """The README's first result: the default against the Keras recipe, from `make bench`."""
    runs = _by_preset()
    default = runs["default"]
    images = _read("metrics.json")["test_images"]
    noise = evaluation.sampling_halfwidth(statistics.mean(row["test_accuracy"] for row in default), images)
    return (
        f"**The default recipe: {_readings(default)}** (test accuracy, mean ± standard deviation over "
        f"{len(default)} seeds; one reading of the {images:,} test images is itself uncertain by "
        f'±{100 * noise:.2f} points). The Keras "Simple MNIST convnet" recipe, trained beside it on the '
        f"same images: {_readings(runs['baseline'])}. The default takes "
        f"{ratio_text(time_ratios(runs, 'default'))} the Keras recipe's training time (median and range of "
        f"the {len(default)} seed-by-seed ratios). From [`reports/benchmarks.md`](reports/benchmarks.md)."
    )


def run_time() -> str:
    """How long the last full render took, from `reports/pipeline.json` (written by `make run`)."""
    path = config.REPORTS_DIR / "pipeline.json"
    if not path.exists():
        return "`make run` writes how long it took to `reports/pipeline.json`."
    times = json.loads(path.read_text())
    slowest = max(times["notebooks"], key=times["notebooks"].get)
    return (
        f"The last full render took {times['total_seconds'] / 60:.0f} min on {times['cpus']} CPU cores "
        f"({slowest} the longest, {times['notebooks'][slowest] / 60:.0f} min; `reports/pipeline.json`)."
    )


def _gap_name(gap: int) -> str:
    return f"overlapping {-gap} px" if gap < 0 else "side by side" if gap == 0 else f"{gap} px apart"


def rows() -> list[tuple[str, str, str]]:
    """(what, the figure, the file it comes from) for each line of the README's results table."""
    metrics = _read("metrics.json")
    bench = _read("benchmarks.json")
    runs = _by_preset()
    calibration = metrics["calibration"]
    elsewhere = metrics["pictures_from_elsewhere"]
    drawn = elsewhere["drawn non-digits (the measuring set)"]
    files = elsewhere["MNIST test digits as files"]
    strokes = elsewhere["drawn digits (the browser test's strokes)"]
    noise = evaluation.sampling_halfwidth(metrics["single_view_accuracy"], metrics["test_images"])
    found = [
        (
            "the rendered default run (notebook 04)",
            f"{_percent(metrics['single_view_accuracy'])} read once (±{100 * noise:.2f} points, the test set's "
            f"sampling), {_percent(metrics['accuracy'])} with test-time augmentation, TTA ({metrics['mistakes']} "
            f"mistakes in {metrics['test_images']:,})",
            "`reports/metrics.json`",
        ),
        (
            f"the default recipe, {len(runs['default'])} seeds (`make bench`)",
            f"{_readings(runs['default'], 'with TTA')}; training time "
            f"{ratio_text(time_ratios(runs, 'default'))} the Keras recipe's, paired by seed",
            "`reports/benchmarks.md`",
        ),
        (
            'the Keras "Simple MNIST convnet" recipe, same run',
            _readings(runs["baseline"], "with TTA"),
            "`reports/benchmarks.md`",
        ),
        (
            "the quick preset (`params/quick.yaml`), same run",
            f"{_readings(runs['quick'], 'with TTA')}; training time "
            f"{ratio_text(time_ratios(runs, 'quick'))} the Keras recipe's",
            "`reports/benchmarks.md`",
        ),
    ]
    if bench.get("ensemble"):
        ensemble = bench["ensemble"]
        found.append(
            (
                f"the {ensemble['members']} default runs averaged (`params/best.yaml`)",
                f"{_percent(ensemble['test_accuracy'])} read once, {_percent(ensemble['test_accuracy_tta'])} with "
                f"TTA; training time {sum(time_ratios(runs, 'default')):.1f}x the Keras recipe's (its members' "
                "paired ratios added)",
                "`reports/benchmarks.md`",
            )
        )
    found += [
        (
            "calibration, read once (notebook 04)",
            f"expected calibration error {_percent(calibration['read_once_ece'])}; "
            f"{_percent(calibration['read_once_calibrated_ece'])} at temperature {calibration['temperature']:g} "
            "(fitted on validation, as the interface shows it)",
            "`reports/metrics.json`",
        ),
        (
            'the "not sure" rule and its digit detector (notebook 04)',
            f"flag {_percent(files['flagged'], 1)} of {files['pictures']} test digits as files, "
            f"{_percent(strokes['flagged'], 1)} of {strokes['pictures']} drawn digits; "
            f"{_percent(drawn['flagged'], 0)} of {drawn['pictures']} drawn letters and symbols, "
            f"{_percent(elsewhere['Fashion-MNIST, test part']['flagged'], 0)} of Fashion-MNIST test pictures",
            "`reports/metrics.json`",
        ),
        (
            f"numbers of 2-5 test digits read exactly ({metrics['numbers'][0]['numbers']} per gap, notebook 04)",
            "".join(
                f"touching {_percent(kinds['touching']['read_exactly'], 1)} and apart "
                f'{_percent(kinds["apart"]["read_exactly"], 1)}, wrong with no "?" '
                f"{_percent(kinds['touching']['read_wrong_without_a_question_mark'], 1)} and "
                f"{_percent(kinds['apart']['read_wrong_without_a_question_mark'], 1)}; "
                for kinds in [metrics["numbers_by_kind"]]
                if "numbers_by_kind" in metrics
            )
            + "".join(
                "with a drawn letter among the digits, read as a clean number "
                f"{_percent(letters['touching']['read_wrong_without_a_question_mark'], 1)} and "
                f"{_percent(letters['apart']['read_wrong_without_a_question_mark'], 1)}; "
                for letters in [metrics.get("numbers_with_a_drawn_letter")]
                if letters
            )
            + "".join(f"{_gap_name(row['gap'])}: {_percent(row['read_exactly'], 0)}" for row in metrics["numbers"][:1]),
            "`reports/metrics.json`",
        ),
    ]
    return found


def table() -> str:
    """The results table, in Markdown."""
    lines = ["| | | from |", "| --- | --- | --- |"]
    lines += [f"| {what} | {figure} | {source} |" for what, figure, source in rows()]
    return "\n".join(lines)


def app_load() -> str:
    """The drawing app under load, from `reports/app_load.json` (written by `make load-test`)."""
    path = config.REPORTS_DIR / "app_load.json"
    if not path.exists():
        return "`make load-test` writes its figures to `reports/app_load.json`."
    load = json.loads(path.read_text())
    lines = [
        "| visitors at once | pad ready, median (worst) | answers right | server memory before / peak / after "
        "| visits held 10 / 60 / 180 s after |",
        "| --- | --- | --- | --- | --- |",
    ]
    for run in load["scenarios"]:
        memory, alive, ready = run["memory_mb"], run["visits_alive_after_s"], run["time_to_pad_s"]
        lines.append(
            f"| {run['visitors']}, {'closing the tab' if run['leave'] == 'close' else 'vanishing'} "
            f"| {ready['median']:.1f} s ({ready['worst']:.1f} s) | {run['answers_right']} of {run['answers']} "
            f"| {memory['before']:,} / {memory['peak']:,} / {memory['after']:,} MiB | "
            + " / ".join(str(alive.get(str(wait), "–")) for wait in (10, 60, 180))
            + " |"
        )
    text = "\n".join(lines) + f"\n\nA visit costs at most {load['memory_per_visitor_mb']:.1f} MiB."
    long = load.get("hundred_visits")
    if long:
        memory = long["memory_mb"]
        text += (
            f" {long['visits']} visits, {long['at_once']} at a time, {long['vanished']} vanishing: memory "
            f"{memory['before']:,} MiB before, {memory['after']:,} after the idle time "
            f"({long['memory_change_percent']:+.1f} %), {long['visits_alive_after_idle_time']} visits held."
        )
    if load.get("over_the_ceiling"):
        text += f" [Over the ceiling]({load['over_the_ceiling']['screenshot']})."
    return text + f" {load['machine']['cpus']} CPU cores, shared with the visitors' Chromium; `reports/app_load.json`."


BLOCKS: dict[str, Callable[[], str]] = {
    "headline": headline,
    "table": table,
    "run_time": run_time,
    "app": app_load,
}


def update_readme(path: Path = README, check: bool = False) -> bool:
    """Rewrite each results block of `path` from reports/; with `check`, only compare.
    Returns whether the file already held the current blocks."""
    text = path.read_text()
    names = MARKER.findall(text)
    unknown = sorted(set(names) - set(BLOCKS))
    if not names or unknown:
        raise ValueError(
            f"{path}: results blocks {names} ({', '.join(unknown) or 'none'} unknown); known: {list(BLOCKS)}"
        )
    current = MARKER.sub(lambda match: f"{START_MARK}{match[1]} -->\n{BLOCKS[match[1]]()}\n{END}", text)
    if current == text:
        return True
    if not check:
        path.write_text(current)
    return False


def _results_command(args: argparse.Namespace) -> int:
    fresh = update_readme(check=args.check)
    if args.check:
        print(
            "README.md's results match reports/"
            if fresh
            else "README.md's results are stale: run `python -m digitlib results`"
        )
        return 0 if fresh else 1
    print("README.md's results: " + ("unchanged" if fresh else "rewritten from reports/"))
    return 0


def add_command(commands: Any) -> None:
    command = commands.add_parser("results", help="write the README's results from reports/")
    command.add_argument("--check", action="store_true", help="only check that they are current")
    command.set_defaults(handler=_results_command)
