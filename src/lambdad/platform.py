"""The composition root: builds every service once from the settings.

``Platform.open()`` performs the side effects (data directory, store, keys);
``close()`` releases them. The ASGI app and the CLI receive a Platform; nothing
else constructs services.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from lambdad.api.sigv4 import Credential
from lambdad.clock import Clock, SystemClock
from lambdad.config import Settings
from lambdad.control import credentials as credstore
from lambdad.control.functions import FunctionService
from lambdad.secrets import Sealer
from lambdad.store.blobs import BlobStore
from lambdad.store.sqlite import SqliteStore

log = logging.getLogger(__name__)
T = TypeVar("T")


class Platform:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.credentials: dict[str, Credential] = {}
        self.generated_credential: Credential | None = None
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lambdad-io")

    def open(self) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        explicit = credstore.parse(s.credentials)
        if explicit:
            creds = explicit
        else:
            cred, created = credstore.load_or_create(s.data_dir)
            creds = [cred]
            if created:
                self.generated_credential = cred
        self.credentials = {c.access_key_id: c for c in creds}
        self.store = SqliteStore(s.data_dir / "lambdad.db")
        self.store.open()
        self.blobs = BlobStore(s.data_dir / "blobs")
        self.blobs.open()
        self.sealer = Sealer.from_data_dir(s.data_dir)
        self.functions = FunctionService(
            s, self.store, self.blobs, self.sealer, self.clock, code_fetcher=_fetch_s3_code
        )

    def close(self) -> None:
        self.store.close()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def isolation_banner(self) -> str:
        return (
            "process — WARNING: functions run as plain child processes with no sandbox; "
            "do not run untrusted code"
        )

    def lookup_credential(self, access_key_id: str) -> Credential | None:
        return self.credentials.get(access_key_id)

    async def offload(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work (archive checks, hashing, big writes) off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))


def _fetch_s3_code(code: dict[str, Any]) -> bytes:
    """Code given as an S3 location, fetched with boto3's standard configuration chain."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from lambdad.errors import InvalidParameterValueException

    try:
        s3 = boto3.client("s3")
        args = {"Bucket": code["S3Bucket"], "Key": code["S3Key"]}
        if code.get("S3ObjectVersion"):
            args["VersionId"] = code["S3ObjectVersion"]
        body: bytes = s3.get_object(**args)["Body"].read()
        return body
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise InvalidParameterValueException(
            f"Error occurred while GetObject. S3 Error Code: {err.get('Code')}. S3 Error "
            f"Message: {err.get('Message')}"
        ) from None
    except BotoCoreError as exc:
        raise InvalidParameterValueException(
            f"Error occurred while GetObject: {exc}"
        ) from None
