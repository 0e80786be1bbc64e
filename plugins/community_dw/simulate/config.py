"""Simulation settings: city size, seed, simulated days, population mix, daily churn and defect rates."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from community_dw.simulate.defects import DefectRates


@dataclass
class SimConfig:
    """Everything that shapes one synthetic city; the same config and seed give the same bytes."""

    residents: int = 5000
    seed: int = 42
    days: int = 3
    start_date: date = date(2026, 11, 1)
    # population mix by household (SOURCES.md 人口类型)
    registered_share: float = 0.68
    floating_share: float = 0.30       # the rest (≈2%) are foreign / HK-Macau households
    residents_per_community: int = 15000
    households_per_grid: int = 400     # grids get 300–500 households around this
    # daily churn, as a share of present residents per simulated day. Time is compressed (real
    # rates are ~10x lower) so that a three-day demo city still has births, deaths and moves.
    birth_rate: float = 0.0004
    death_rate: float = 0.0003
    move_in_rate: float = 0.002
    move_out_rate: float = 0.0015
    info_change_rate: float = 0.002
    # civil affairs
    facilities_per_10k: float = 10.0
    defects: DefectRates = field(default_factory=DefectRates)

    def day_date(self, day: int) -> date:
        """Calendar date of simulated day `day` (1-based)."""
        return self.start_date + timedelta(days=day - 1)

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["start_date"] = self.start_date.isoformat()
        return d


def parse_overrides(pairs: list[str] | None, yaml_file: Path | None = None) -> dict[str, float]:
    """`name=value` pairs (and an optional YAML mapping) into defect-rate overrides."""
    values: dict[str, float] = {}
    if yaml_file is not None:
        import yaml

        loaded = yaml.safe_load(Path(yaml_file).read_text(encoding="utf-8")) or {}
        values.update({str(k): float(v) for k, v in loaded.items()})
    for pair in pairs or []:
        if "=" not in pair:
            raise ValueError(f"expected name=value, got {pair!r}")
        name, value = pair.split("=", 1)
        values[name.strip()] = float(value)
    return values
