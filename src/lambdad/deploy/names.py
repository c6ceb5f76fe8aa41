"""Physical names for resources the template does not name, as CloudFormation makes
them: ``<stack>-<LogicalId>-<SUFFIX>``, cut to the type's limit. The suffix is derived
from the stack's id, the logical id and the name it replaces (so a replacement never
takes the old name), which keeps the planner and its tests deterministic."""

from __future__ import annotations

import base64
import hashlib


def physical_name(
    stack_id: str, stack_name: str, logical_id: str, limit: int, replaces: str = ""
) -> str:
    digest = hashlib.sha256(f"{stack_id}\0{logical_id}\0{replaces}".encode()).digest()
    suffix = base64.b32encode(digest).decode()[:12]
    room = limit - len(suffix) - 2
    stack_part = stack_name[: max(room // 2, room - len(logical_id))]
    logical_part = logical_id[: room - len(stack_part)]
    return f"{stack_part}-{logical_part}-{suffix}"
