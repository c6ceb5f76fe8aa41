"""A shard read in tumbling windows (``TumblingWindowInSeconds``): the records of one
window go to the function in batches with the window's ``state``, each answer's state
carried to the next invoke; a final invoke (``isFinalInvokeForWindow``) closes the
window, and only then does the checkpoint move past its records. The reading, the
filters and the checkpoints are ``ShardWorker``'s; only the steps differ.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lambdad.events.streams.batching import MAX_PAYLOAD, take
from lambdad.events.streams.records import StreamRecord
from lambdad.events.streams.shard_worker import ShardWorker
from lambdad.events.streams.windows import (
    Window,
    is_over,
    open_for,
    same_window,
    state_too_big,
    window_event,
)


class WindowWorker(ShardWorker):
    window: Window | None = None

    def _settled(self) -> bool:
        return self.window is None

    async def _step(self) -> bool:
        now = self._now()
        if self.window is None:
            if not self.pending:
                await self._checkpoint(self.last_read)
                return False
            self.window = open_for(self.pending[0], self.settings.tumbling_window, now)
        window = self.window
        ended = self.iterator is None and not same_window(self.pending, window)
        if ended or is_over(window, self.pending, now, self.settings.window_grace):
            await self._close_window(terminated_early=False)
            return True
        mine = self.pending[: same_window(self.pending, window)]
        if not self._ready(mine, self.settings.batch_size):
            return False
        # The window's state travels in the same event, under the same 6 MB.
        state_bytes = len(json.dumps(window.state, separators=(",", ":")).encode())
        batch = mine[: take(mine, self.settings.batch_size, MAX_PAYLOAD - state_bytes)]
        await self.runner.run(
            batch, envelope=self._window_envelope(final=False), windowed=True, on_state=self._state
        )
        self.window = dataclasses.replace(
            self.window, last_sequence_number=batch[-1].sequence_number, last_read_at=now
        )
        del self.pending[: len(batch)]
        self.first_read_at = self._now() if self.pending else None
        if state_too_big(self.window.state):
            await self._close_window(terminated_early=True)
        return True

    def _state(self, state: Mapping[str, Any]) -> None:
        assert self.window is not None
        self.window = dataclasses.replace(self.window, state=dict(state))

    def _window_envelope(
        self, *, final: bool, early: bool = False
    ) -> Callable[[Sequence[StreamRecord]], Mapping[str, Any]]:
        def envelope(records: Sequence[StreamRecord]) -> Mapping[str, Any]:
            assert self.window is not None
            return window_event(
                records,
                self.window,
                shard_id=self.shard_id,
                source_arn=self.source_arn,
                final=final,
                terminated_early=early,
            )

        return envelope

    async def _close_window(self, *, terminated_early: bool) -> None:
        """The final invoke, retried until it succeeds (AWS suspends the shard until then)."""
        assert self.window is not None
        event = self._window_envelope(final=True, early=terminated_early)([])
        payload = json.dumps(event, separators=(",", ":")).encode()
        attempt = 0
        while True:
            outcome = await self.context.invoke(payload)
            if outcome.ok:
                break
            attempt += 1
            await self.context.sleep(self.context.backoff(attempt))
        await self._checkpoint(self.window.last_sequence_number)
        self.window = None
