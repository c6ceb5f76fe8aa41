"""A FunctionService with one function ("fn") and an EventSourceMappingService over an
in-memory store: what the mapping tests of control/ and events/ share."""

from __future__ import annotations

import base64
import io
import zipfile
from datetime import UTC, datetime
from typing import Any

from lambdad.clock import FakeClock
from lambdad.config import Settings
from lambdad.control.event_source_mappings import EventSourceMappingService
from lambdad.control.functions import FunctionService
from lambdad.events.mappings.filtering import check_pattern
from lambdad.model.changes import ChangeHub
from lambdad.model.scope import Scope
from lambdad.secrets import Sealer
from lambdad.store.blobs import BlobStore
from lambdad.store.sqlite import SqliteStore

EAST = Scope("123456789012", "us-east-1")
QUEUE = "arn:aws:sqs:us-east-1:123456789012:jobs"


def echo_zip() -> str:
    """An echoing Python handler's zip, base64 (CreateFunction's ``ZipFile`` as JSON)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", "def handler(event, context):\n    return event\n")
    return base64.b64encode(buf.getvalue()).decode()


class Harness:
    def __init__(self, store: SqliteStore, blobs: BlobStore) -> None:
        clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
        self.changes = ChangeHub()
        self.published: list[str] = []
        self.changes.on_mapping_change(lambda scope, uuid: self.published.append(uuid))
        self.functions = FunctionService(
            Settings(), store, blobs, Sealer(bytes(range(32))), clock, changes=self.changes
        )
        self.create_function()
        self.service = EventSourceMappingService(
            store, self.functions, clock, self.changes, check_pattern
        )

    def create_function(self) -> None:
        self.functions.create_function(
            EAST,
            {
                "FunctionName": "fn",
                "Runtime": "python3.12",
                "Role": "arn:aws:iam::123456789012:role/r",
                "Handler": "app.handler",
                "Code": {"ZipFile": echo_zip()},
            },
        )

    def create(self, **params: Any) -> dict[str, Any]:
        return self.service.create(EAST, {"FunctionName": "fn", "EventSourceArn": QUEUE, **params})
