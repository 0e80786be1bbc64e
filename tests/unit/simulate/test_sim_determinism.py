"""Same seed, same bytes: every delivery, the API data, the health versions and the truth."""

from __future__ import annotations

import hashlib
from pathlib import Path

from community_dw.simulate.city import generate_city
from community_dw.simulate.config import SimConfig


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    cfg = dict(residents=1500, seed=3, days=3)
    generate_city(tmp_path / "a", SimConfig(**cfg))
    generate_city(tmp_path / "b", SimConfig(**cfg))
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert a.keys() == b.keys()
    assert len(a) >= 15
    assert a == b


def test_another_seed_gives_another_city(tmp_path: Path) -> None:
    generate_city(tmp_path / "a", SimConfig(residents=800, seed=1, days=2))
    generate_city(tmp_path / "b", SimConfig(residents=800, seed=2, days=2))
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert a["public_security/residents_full_20261101.csv"] != b["public_security/residents_full_20261101.csv"]
