"""The operator's upstream.json: saved 0600, read again on change, nothing used while
it is broken (and no secret in what the log says)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from lambdad.model.upstream import UpstreamCredential
from lambdad.store.upstream import UpstreamCredentials, load, save, update

ROLE = "arn:aws:iam::123456789012:role/app"
KEYS = UpstreamCredential("AKIAOPERATOR", "S3CRET")


def test_saved_credentials_are_read_and_changes_noticed_within_a_second(
    tmp_path: Path,
) -> None:
    path = tmp_path / "upstream.json"
    now = [0.0]
    table = UpstreamCredentials(path, clock=lambda: now[0])
    assert not table.has_role(ROLE)
    save(path, {ROLE: {"s3": KEYS}})
    assert path.stat().st_mode & 0o777 == 0o600
    assert load(path) == {ROLE: {"s3": KEYS}}
    assert not table.has_role(ROLE)  # the file is looked at once a second at most
    now[0] = 1.0
    assert table.services(ROLE) == {"s3"}
    assert table.credential_for(ROLE, "s3") == KEYS
    assert table.credential_for(ROLE, "sqs") is None
    update(path, lambda t: t[ROLE].update({"*": KEYS}))
    now[0] = 2.0
    assert table.credential_for(ROLE, "sqs") == KEYS


def test_a_broken_file_uses_nothing_and_logs_no_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "upstream.json"
    save(path, {ROLE: {"s3": KEYS}})
    table = UpstreamCredentials(path, every=0.0)
    assert table.has_role(ROLE)
    broken = {ROLE: {"s3": {"AccessKeyId": "A", "SecretAccessKey": "S3CRET", "x": 1}}}
    path.write_text(json.dumps(broken))
    with caplog.at_level(logging.ERROR):
        assert not table.has_role(ROLE)
    assert "unknown fields" in caplog.text
    assert "S3CRET" not in caplog.text
