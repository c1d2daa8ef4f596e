"""One socket's protocol state, without I/O (as the websockets library keeps its
protocol apart from its sockets): a message in, the frames to answer and maybe
an event for the pipeline or a close code out.

Its decisions, in order, for each message (docs/protocol.md):

1. not JSON / msgpack, not a frame, a bad field -> an error frame naming the
   field; after ``protocol_strikes`` of them (these and events the pipeline
   refused) -> close 4400;
2. ``hello`` -> ``welcome``;
3. an event before ``hello`` -> error ``not_ready`` (keep it, send hello);
4. over the event rate -> error ``rate_limited`` (not stored: resend it later);
   after ``rate_strikes`` of them -> close 1008;
5. else the event goes to the pipeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from engine.wire.frames import Event, FrameError, Hello, decode, parse_frame
from engine.wire.protocol import VERSION, CloseCode, ErrorCode, Frame, Limits, ServerFrame
from engine.wire.rates import Clock, TokenBucket


@dataclass(slots=True)
class Step:
    """What to do after one message: send ``frames`` in order, hand ``event``
    to the pipeline, close with ``close``."""

    frames: list[Frame] = field(default_factory=list)
    event: Event | None = None
    close: CloseCode | None = None


class Session:
    def __init__(self, visitor: str, limits: Limits, *, binary: bool = False,
                 clock: Clock = time.monotonic,
                 signals: Callable[[], Sequence[str]] = tuple) -> None:
        self.visitor = visitor
        # The widget signals the site's rules are triggered by, told in the
        # welcome: the widget sends those and no others.
        self.signals = signals
        self.limits = limits
        self.binary = binary
        self.greeted = False
        self.bucket = TokenBucket(limits.events_per_second, limits.event_burst, clock)
        self.rate_strikes = 0
        self.protocol_strikes = 0

    def receive(self, message: str | bytes, now: float) -> Step:
        """A message from the client; ``now`` is the engine's time (for ``welcome``)."""
        try:
            frame = parse_frame(decode(message, self.binary), self.limits)
        except FrameError as exc:
            return self.rejected(exc)
        if isinstance(frame, Hello):
            self.greeted = True
            return Step([{"t": ServerFrame.WELCOME, "v": VERSION, "visitor": self.visitor,
                          "server_time": now, "signals": list(self.signals())}])
        if not self.greeted:
            return Step([error(ErrorCode.NOT_READY, frame, "send hello first")])
        if not self.bucket.take():
            self.rate_strikes += 1
            close = CloseCode.POLICY if self.rate_strikes >= self.limits.rate_strikes else None
            return Step([error(ErrorCode.RATE_LIMITED, frame, f"over "
                               f"{self.limits.events_per_second:g} events per second")],
                        close=close)
        return Step(event=frame)

    def rejected(self, exc: FrameError) -> Step:
        """A bad frame, or an event the pipeline refused: an error, a strike."""
        self.protocol_strikes += 1
        close = CloseCode.PROTOCOL if self.protocol_strikes >= self.limits.protocol_strikes \
            else None
        return Step([exc.frame()], close=close)

    def unavailable(self, event: Event) -> Step:
        """The storage did not take the event: the client keeps it and resends it."""
        return Step([error(ErrorCode.UNAVAILABLE, event,
                           "storage unavailable; keep the event and resend it")])


def error(code: ErrorCode, event: Event, message: str) -> Frame:
    return {"t": ServerFrame.ERROR, "code": code, "id": event.id, "message": message}
