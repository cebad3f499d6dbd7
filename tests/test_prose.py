"""The prose a reader reads keeps no numbers of its own and no history.

Every measured number on a page is computed where it stands: a notebook's Markdown cells hold
words, names and the facts of the dataset, and the figures come from code cells
(`digitlib.notebook.say`); the README's figures are written from `reports/` between its results
markers. These tests fail on a number typed into that prose, and on words that only make sense to
someone who watched the project change (its history lives in CHANGELOG.md)."""

from __future__ import annotations

import re

import nbformat
import pytest

from digitlib import config
from digitlib.research import results

pytestmark = pytest.mark.audit

# What may stand in prose: the dataset's own facts, notebook numbers, years of a citation.
ALLOWED = re.compile(
    r"\b0[1-7](?:_[a-z_]+)?\b"  # notebook 04, 04_evaluation
    r"|\b60,000\b|\b10,000\b|\b(?:28|20|8)x(?:28|20|8)\b"  # MNIST's sizes
    r"|\b[1-9]x[1-9]\b"  # a kernel's size (3x3 convolutions, 2x2 pooling)
    r"|\b(?:19|20)\d\d\b"  # a citation's year
    r"|\bMNIST\b|\bTF\d?\b|\bF1\b|\bfloat32\b|\buint8\b|\bIDX\b|\bSHA-256\b"
    r"|\b95 %|\bCC BY-SA\s+\d\.\d\b|\bPython 3\.11\b"  # the intervals' level; licences, versions
)
CODE = re.compile(r"```.*?```|`[^`\n]*`|\]\([^)]*\)|<!--.*?-->|<[^>]+>", re.S)  # code, link targets, tags
HISTORY = re.compile(r"\b(previous(ly)?|used to|no longer|any ?more|now|targets?|this time|last time|so far)\b", re.I)


def typed_numbers(text: str) -> list[str]:
    """The numbers in `text` (Markdown) that are neither code nor an allowed fact: each one a
    figure that was typed, not computed."""
    words = ALLOWED.sub(" ", CODE.sub(" ", text))
    return re.findall(r"[±]?\d[\d,.]*(?:\s?(?:%|x\b|s\b|ms\b|min\b|px\b|points?\b))?", words)


def notebook_prose() -> list[tuple[str, str]]:
    """(where, Markdown) for every Markdown cell of the rendered notebooks."""
    found = []
    for path in sorted(config.NOTEBOOKS_DIR.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "markdown":
                found.append((f"{path.name} cell {index}", cell.source))
    return found


def computed_prose() -> list[tuple[str, str]]:
    """(where, Markdown) for the prose the notebooks computed (`say`'s outputs)."""
    found = []
    for path in sorted(config.NOTEBOOKS_DIR.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for index, cell in enumerate(notebook.cells):
            for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
                if "text/markdown" in output.get("data", {}):
                    found.append((f"{path.name} cell {index}", output["data"]["text/markdown"]))
    return found


def readme_prose() -> str:
    """README.md without its generated blocks."""
    text = results.README.read_text()
    return re.sub(re.escape(results.START_MARK) + r".*?" + re.escape(results.END), " ", text, flags=re.S)


def test_the_typed_number_check_catches_a_figure_and_spares_facts_and_code():
    assert typed_numbers("The model reads 99.79 % of them") == ["99.79 %"]
    assert typed_numbers("about ±0.12 points, 1.29x the time, 18 epochs") == ["±0.12 points", "1.29x", "18"]
    assert typed_numbers("the 60,000 training images, 28x28 pixels, notebook 04 (LeCun, 1998)") == []
    assert typed_numbers("`EPOCHS = 18` in [the file](reports/05_ablation.csv)") == []


@pytest.mark.parametrize("where, text", notebook_prose(), ids=lambda value: value if " cell " in value else "")
def test_a_notebooks_markdown_types_no_measured_number(where, text):
    assert not typed_numbers(text), f"{where} types {typed_numbers(text)}: compute it in a cell (notebook.say)"


def test_the_readme_types_no_number_outside_its_generated_blocks():
    assert not typed_numbers(readme_prose()), typed_numbers(readme_prose())


def test_no_page_tells_the_projects_history():
    pages = [*notebook_prose(), *computed_prose(), ("README.md", readme_prose())]
    told = [(where, match.group(0)) for where, text in pages for match in HISTORY.finditer(CODE.sub(" ", text))]
    assert not told, told


def test_the_readme_reads_in_five_minutes():
    # words hold a letter or a digit: a table's | and --- are not read
    words = len([word for word in re.findall(r"\S+", results.README.read_text()) if re.search(r"\w", word)])
    assert words <= 1000, f"README.md has {words} words"


@pytest.mark.parametrize("path", sorted(config.NOTEBOOKS_DIR.glob("*.ipynb")), ids=lambda path: path.stem)
def test_each_notebook_opens_with_its_question_and_answer(path):
    opening = nbformat.read(path, as_version=4).cells[0].source
    assert opening.startswith(f"# {path.stem[:2]} · ") and "**Question.**" in opening and "**Answer.**" in opening
