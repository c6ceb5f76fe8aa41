"""Request ids: random version 4 UUIDs as text."""

from __future__ import annotations

import uuid

from lambdad.model.ids import new_uuid4


def test_ids_are_distinct_version_4_uuids() -> None:
    ids = {new_uuid4() for _ in range(2000)}
    assert len(ids) == 2000
    for text in list(ids)[:200]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
