"""The forecast worker: a child process that decodes recorded entries as
they arrive over a pipe, then replays the draft over them.

A replay is a few seconds of pure CPU: in the engine's own process it would
hold the interpreter from the event loop and slow live traffic. The worker
compiles the draft itself, so only text and bytes cross the pipe.

Messages in: ("layouts", {id: names}), ("entries", [bytes, ...])..., ("end",).
Out: ("progress", done, total)..., then ("done", forecast JSON) or
("error", message).
"""

from __future__ import annotations

import operator
import traceback
from multiprocessing.connection import Connection
from typing import Any

import rules
from engine.forecast.recording import Entry, UnknownLayout, decode
from engine.forecast.replay import Replay, Settings
from engine.matcher import MatcherLike
from engine.runtime.site import ActiveRules
from engine.store.base import source_version

STEP = 20_000  # entries replayed between two progress messages


def replay_entries(source: str, filename: str, matcher_class: type[MatcherLike],
                   settings: Settings, entries: list[Entry],
                   progress: Any = None) -> dict[str, Any]:
    """The forecast of a draft's text over decoded entries (any order)."""
    compiled = rules.check(source, filename)
    if compiled.ruleset is None:
        raise ValueError("the draft has errors")
    draft = ActiveRules.build(compiled.ruleset, matcher_class, source_version(source), source)
    entries.sort(key=operator.attrgetter("now"))  # stable: ties keep their recorded order
    replay = Replay(draft, settings)
    for start in range(0, len(entries), STEP):
        replay.feed(entries[start:start + STEP])
        if progress is not None:
            progress(min(start + STEP, len(entries)), len(entries))
    return replay.forecast.as_json(draft, settings)


def work(conn: Connection, source: str, filename: str, matcher_class: type[MatcherLike],
         settings: Settings) -> None:
    try:
        layouts: dict[str, list[str]] = {}
        entries: list[Entry] = []
        unreadable = 0
        while True:
            message = conn.recv()
            if message[0] == "layouts":
                layouts = message[1]
            elif message[0] == "entries":
                for blob in message[1]:
                    try:
                        entries.append(decode(blob, layouts))
                    except (UnknownLayout, ValueError, TypeError):
                        unreadable += 1
            else:
                break
        result = replay_entries(source, filename, matcher_class, settings, entries,
                                lambda done, total: conn.send(("progress", done, total)))
        result["unreadable"] = unreadable
        conn.send(("done", result))
    except (EOFError, BrokenPipeError):
        return  # the engine gave up on this forecast
    except Exception as exc:  # sent to the engine, which logs it and answers 500
        conn.send(("error", f"{exc!r}\n{traceback.format_exc()}"))
    finally:
        conn.close()
