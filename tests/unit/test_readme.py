"""The README's model tables name every model of the catalog, with the regions it is offered in."""

from __future__ import annotations

import re
from pathlib import Path

from providers.dashscope.catalog import load_catalog

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _table_rows() -> list[str]:
    return [line for line in README.splitlines() if line.startswith("| ") and not line.startswith("|---")]


def test_every_catalog_model_is_in_a_readme_table() -> None:
    named = {name for row in _table_rows() for name in re.findall(r"[a-z][a-z0-9.-]+", row.split("|")[1])}
    missing = sorted(set(load_catalog().models) - named)
    assert not missing, f"README model tables lack {missing}"


def test_the_regions_column_matches_the_catalog() -> None:
    catalog = load_catalog().models
    for row in _table_rows():
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        if len(cells) != 5 or cells[0] == "model":
            continue
        regions = set(re.findall(r"\b(cn|intl|us|eu|jp|hk)\b", cells[4]))
        for name in re.findall(r"[a-z][a-z0-9.-]+", cells[0]):
            if name in catalog:
                assert set(catalog[name].names) == regions, (name, cells[4])
