"""A real websocket client speaking ondo.v1, as the widget does, for tests."""

from __future__ import annotations

import itertools
import json
from typing import Any

from websockets.sync.client import ClientConnection, connect

from tests.conftest import ORIGIN, Engine

_ids = itertools.count(1)


class Visitor:
    def __init__(self, engine: Engine, visitor: str = "visitor-0001", *, origin: str = ORIGIN,
                 site: str = "demo-shop") -> None:
        self.engine = engine
        self.visitor = visitor
        self.ws: ClientConnection = connect(
            f"{engine.ws_url}/v1/ws?site={site}&visitor={visitor}",
            origin=origin,  # type: ignore[arg-type]
            subprotocols=["ondo.v1"],  # type: ignore[list-item]
            user_agent_header="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile",
            open_timeout=5, legacy=True)
        self.actions: list[dict[str, Any]] = []
        self.ws.send(json.dumps({"t": "hello", "page": {"url": "https://shop.example.com/"}}))
        welcome = self.recv()
        assert welcome["t"] == "welcome", welcome

    def recv(self, timeout: float = 5) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(self.ws.recv(timeout=timeout))
        return frame

    def send(self, kind: str, data: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
        """Send one event; return its ack or error frame. Actions that arrive
        on the way are collected in ``self.actions``."""
        event_id = event_id or f"e{next(_ids)}"
        self.ws.send(json.dumps({"t": "event", "id": event_id, "kind": kind, "at": 0,
                                 "data": data}, ensure_ascii=False))
        return self.until(event_id)

    def until(self, event_id: str) -> dict[str, Any]:
        while True:
            frame = self.recv()
            if frame["t"] == "action":
                self.actions.append(frame)
            elif frame.get("id") == event_id:
                # Actions of this event follow its ack in the same burst.
                self._drain()
                return frame

    def _drain(self) -> None:
        while True:
            try:
                frame = self.recv(timeout=0.05)
            except TimeoutError:
                return
            assert frame["t"] == "action", frame
            self.actions.append(frame)

    def page(self, url: str, referrer: str = "", event_id: str | None = None,
             **page: str) -> dict[str, Any]:
        return self.send("pageview", {"url": url, "referrer": referrer, **page}, event_id)

    def close(self) -> None:
        self.ws.close()
