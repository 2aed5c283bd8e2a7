"""Watching events in the background while something else happens (an upload): the stream is
open, with its consumer made by the API, before the request that causes the events is sent,
so none are missed."""

from __future__ import annotations

import queue
import threading

from .api import Api, CliError, SseMessage


class EventWatcher:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.messages: queue.Queue[SseMessage | CliError | None] = queue.Queue()
        self._open = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self, timeout: float = 30) -> EventWatcher:
        self._thread.start()
        if not self._open.wait(timeout):
            raise CliError("the CRANE API did not open the event stream")
        return self

    def _run(self) -> None:
        try:
            for message in self.api.events("/events", params={"follow": "true"}, on_open=self._open.set):
                self.messages.put(message)
        except CliError as exc:
            self.messages.put(exc)
        finally:
            self._open.set()
            self.messages.put(None)

    def next(self, timeout: float) -> SseMessage | None:
        try:
            item = self.messages.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(item, CliError):
            raise item
        if item is None:
            raise CliError("the event stream ended")
        return item
