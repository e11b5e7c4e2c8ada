"""The probabilistic near-duplicate model: Splink on DuckDB, with a saved, checked model.

The model (``model/near_duplicates.json``) is trained offline by :func:`train` on a
synthetic export with known duplicates, checked (no level driven to probability zero), and
committed; every run only predicts with it. Only the NIK's serial (digits 13-16) is
compared: its region and birth-date digits repeat the kelurahan and birth date columns,
which are compared themselves, and counting them twice made every one-digit NIK typo with
an unrelated name look like a match. The blocking keys (birth date with kelurahan or with
the NIK's region) are compared too: a pair's equal birth date is evidence, and without a
comparison Splink would not weigh it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

MODEL = "near_duplicates.json"
#: Columns the model reads from the ``people`` table.
COLUMNS = ("unique_id", "name_key", "nik_serial", "nik_region", "kk", "address", "rt",
           "kelurahan", "birth_date", "sex", "birth_place")


@dataclass(frozen=True)
class ScoredPair:
    """One candidate pair scored by the model, with the weight of each comparison."""

    left: int
    right: int
    probability: float
    weight: float
    weights: dict[str, float]


def model_path() -> Path:
    """The committed model file inside the package."""
    return Path(str(resources.files("cardkit.register") / "model" / MODEL))


def settings_creator() -> Any:
    """The model's structure (comparisons and blocking), before training."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.JaroWinklerAtThresholds("name_key", [0.95, 0.88]),
            cl.LevenshteinAtThresholds("nik_serial", [1]),
            cl.ExactMatch("birth_date"),
            cl.ExactMatch("kelurahan"),
            cl.ExactMatch("kk"),
            cl.LevenshteinAtThresholds("address", [2]),
            cl.ExactMatch("rt"),
            cl.ExactMatch("sex"),
            cl.ExactMatch("birth_place"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("birth_date", "kelurahan"),
            block_on("birth_date", "nik_region"),
        ],
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
    )


def predict(con: duckdb.DuckDBPyConnection, table: str = "people",
            threshold: float = 0.5, model: Path | None = None) -> list[ScoredPair]:
    """Score candidate pairs of ``table`` with the saved model; pairs at or above ``threshold``."""
    from splink import DuckDBAPI, Linker

    db_api = DuckDBAPI(con)
    sdf = db_api.register(table, dataset_display_name="people")
    linker = Linker(sdf, str(model or model_path()), log_level=logging.WARNING)
    result = linker.inference.predict(threshold_match_probability=threshold)
    relation = result.as_duckdbpyrelation()
    names = relation.columns
    weight_columns = [c for c in names if c.startswith("mw_")]
    rows = relation.fetchall()
    pairs = []
    for row in rows:
        values = dict(zip(names, row, strict=True))
        pairs.append(ScoredPair(int(values["unique_id_l"]), int(values["unique_id_r"]),
                                float(values["match_probability"]),
                                float(values["match_weight"]),
                                {c[3:]: round(float(values[c]), 2) for c in weight_columns}))
    result.drop_table_from_database_and_remove_from_cache()
    return pairs


def check_model(settings: dict[str, Any]) -> list[str]:
    """Problems of a trained model: a level whose m or u is zero or missing (cannot link)."""
    problems = []
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            for key in ("m_probability", "u_probability"):
                value = level.get(key)
                if value is None or value <= 0:
                    problems.append(f"{comparison['output_column_name']}: "
                                    f"{level['label_for_charts']}: {key}={value}")
    return problems


M_FLOOR = 0.01  # a duplicate can still differ where the training data never did
U_FLOOR = 1e-5


def apply_floors(settings: dict[str, Any]) -> None:
    """Give levels never seen in training a small probability instead of none (or zero).

    Without it a level absent from the labelled pairs (an address typo, a NIK from another
    kecamatan) would have m = 0: the model could then never link such a duplicate.
    """
    for comparison in settings["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        for key, floor in (("m_probability", M_FLOOR), ("u_probability", U_FLOOR)):
            values = [max(float(lv.get(key) or 0.0), floor) for lv in levels]
            total = sum(values)
            for level, value in zip(levels, values, strict=True):
                level[key] = value / total


def train(con: duckdb.DuckDBPyConnection, table: str, out: Path, *,
          label_column: str = "cluster", pairs_share: float | None = None) -> dict[str, Any]:
    """Train on a labelled synthetic table and write the checked model to ``out``.

    m probabilities come from the labels (pairs in one cluster are one person), u from
    random sampling, then floors (:func:`apply_floors`); the prior is the share of
    labelled pairs among all pairs.
    """
    from splink import DuckDBAPI, Linker

    db_api = DuckDBAPI(con)
    sdf = db_api.register(table)
    linker = Linker(sdf, settings_creator(), log_level=logging.WARNING)
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=1)
    linker.training.estimate_m_from_label_column(label_column)
    settings: dict[str, Any] = linker.misc.save_model_to_json(str(out), overwrite=True)
    if pairs_share is not None:
        settings["probability_two_random_records_match"] = pairs_share
    apply_floors(settings)
    problems = check_model(settings)
    if problems:
        raise ValueError("trained model cannot link some cases: " + "; ".join(problems))
    out.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return settings
