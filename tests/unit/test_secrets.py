"""Environment variables sealed at rest (lambdad.secrets)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from lambdad.secrets import Sealer, key_id

FN = "arn:aws:lambda:us-east-1:111111111111:function:fn"
KMS = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_default_key_round_trip_without_the_value_in_clear(tmp_path: Path) -> None:
    sealer = Sealer.from_data_dir(tmp_path)
    token = sealer.seal({"SECRET": "hunter2"}, FN)
    assert "hunter2" not in token
    assert token.startswith("v1:")
    assert sealer.unseal(token, FN) == {"SECRET": "hunter2"}
    assert stat.S_IMODE((tmp_path / "master.key").stat().st_mode) == 0o600


def test_named_key_is_created_on_first_use_and_reused(tmp_path: Path) -> None:
    sealer = Sealer.from_data_dir(tmp_path)
    token = sealer.seal({"A": "1"}, FN, KMS)
    key_file = tmp_path / "kms" / f"{key_id(KMS)}.key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert Sealer.key_of(token) == key_id(KMS)
    # A fresh sealer (a restart) reads the same key file.
    assert Sealer.from_data_dir(tmp_path).unseal(token, FN) == {"A": "1"}
    assert sorted(p.name for p in (tmp_path / "kms").iterdir()) == [key_file.name]


def test_named_and_default_keys_differ(tmp_path: Path) -> None:
    sealer = Sealer.from_data_dir(tmp_path)
    token = sealer.seal({"A": "1"}, FN, KMS)
    forged = "v1:" + token.split(":", 2)[2]
    with pytest.raises(InvalidTag):
        sealer.unseal(forged, FN)


def test_sealed_value_is_bound_to_its_function(tmp_path: Path) -> None:
    sealer = Sealer.from_data_dir(tmp_path)
    token = sealer.seal({"A": "1"}, FN, KMS)
    with pytest.raises(InvalidTag):
        sealer.unseal(token, FN + "-other")
