"""``ondo rules forecast FILE --site S --since 24h``: what a draft would have
done to the traffic recorded over a window, from the running engine's API
(docs/forecast.md), with a progress bar while it replays and a table after.
Ctrl-C cancels it: the connection closes, and the engine stops the forecast.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tqdm import tqdm

import rules
from engine.cli import api

# The engine bounds a forecast itself (limits.forecast_seconds) and sends a
# progress line per page: this only gives up on an engine gone silent.
READ_TIMEOUT = 3_600.0
CANCELLED = 130  # the exit status of a command stopped by Ctrl-C (128 + SIGINT)


def register(verbs: Any, common: Any) -> None:
    forecast = verbs.add_parser(
        "forecast", help="what a draft rule file would have done to recorded traffic")
    forecast.add_argument("file", metavar="FILE")
    forecast.add_argument("--since", default="24h",
                          help="24h, 7d, 90m before now, a date/time (site's zone) or epoch")
    forecast.add_argument("--until", default=None, help="the window's end (default: now)")
    forecast.add_argument("--json", action="store_true", help="print the forecast as JSON")
    common(forecast)
    forecast.set_defaults(func=run_forecast)


def _lines(url: str, headers: dict[str, str], body: bytes) -> Iterator[dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=READ_TIMEOUT) as reply:
        for line in reply:
            if line.strip():
                yield json.loads(line)


def run_forecast(args: argparse.Namespace) -> int:
    # The same positioned errors as `ondo rules check`, before any network.
    compiled = rules.check_file(args.file)
    if compiled.ruleset is None:
        for problem in compiled.errors:
            print(problem.format(), file=sys.stderr)
        return 1
    client = api.client(args)
    if client is None:
        return 2
    base, headers = client
    params = {"since": args.since, "progress": "1", **({"until": args.until} if args.until
                                                        else {})}
    url = f"{base}/rules/forecast?{urllib.parse.urlencode(params)}"
    with open(args.file, "rb") as handle:
        body = handle.read()
    result: dict[str, Any] | None = None
    bar: tqdm[Any] | None = None
    stage = ""
    try:
        for item in _lines(url, {**headers, "Content-Type": "application/yaml"}, body):
            progress = item.get("progress")
            if progress is not None:
                if bar is None or stage != progress["stage"]:
                    if bar is not None:
                        bar.close()
                    stage = progress["stage"]
                    # Drawn on a terminal only (disable=None): logs stay clean.
                    bar = tqdm(total=progress["total"], desc=progress["stage"], unit=" entries",
                               unit_scale=True, file=sys.stderr, disable=None, leave=False)
                bar.total = progress["total"]
                bar.update(progress["done"] - bar.n)
            elif "forecast" in item:
                result = item["forecast"]
            else:
                api.print_error(args, int(item.get("status", 500)), item)
                return 1
    except urllib.error.HTTPError as exc:
        with exc:
            raw = exc.read().decode("utf-8", "replace")
        try:
            data: Any = json.loads(raw)
        except ValueError:
            data = raw
        api.print_error(args, exc.code, data)
        return 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"ondo: cannot reach the engine at {base}: {getattr(exc, 'reason', exc)}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # the connection is closed: the engine stops the forecast
        if bar is not None:
            bar.close()
            bar = None
        print("ondo: forecast cancelled", file=sys.stderr)
        return CANCELLED
    finally:
        if bar is not None:
            bar.close()
    if result is None:
        print("ondo: the engine ended the forecast without an answer", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(table(args.file, result))
    return 0


def _n(value: int) -> str:
    return f"{value:,}"


def _when(epoch: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(epoch, tz).strftime("%Y-%m-%d %H:%M")


def table(file: str, f: dict[str, Any]) -> str:
    """The forecast as a marketer reads it."""
    tz = ZoneInfo(f.get("timezone") or "Asia/Seoul")
    window = f["window"]
    out = [f"{file}: forecast over {_when(window['since'], tz)} to {_when(window['until'], tz)} "
           f"({tz.key}): {_n(f['events'])} events of {_n(f['visitors'])} visitors, "
           f"replayed in {f['elapsed_seconds']:.1f} s",
           f"actions sent: {_n(f['sent']['live'])} live, {_n(f['sent']['draft'])} with the "
           f"draft; {_n(f['changed_events'])} events would get other actions; "
           f"{_n(f['fatigued'])} matches stopped by the fatigue budget", ""]
    rows = [("rule", "", "visitors", "shown", "shown to", "buyers", "lost to")]
    for r in f["rules"]:
        lost = ", ".join(f"{rule} {_n(n)}" for rule, n in list(r["lost_to"].items())[:3])
        rows.append((r["rule"], "new" if r["new"] else "", _n(r["matched_visitors"]),
                     _n(r["shown"]), _n(r["shown_visitors"]), _n(r["buyers"]), lost))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.append("  ".join(cell.ljust(w) if i in (0, 1, 6) else cell.rjust(w)
                             for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
                   .rstrip())
    losing = [r for r in f["live_rules"] if r["lost"]]
    if losing:
        out += ["", "live rules that would send less:"]
        for r in losing:
            why = [f"taken by {rule} {_n(n)}" for rule, n in r["taken_by"].items()] + \
                  [f"{reason.replace('_', ' ')} {_n(n)}" for reason, n in r["lost_for"].items()]
            out.append(f"  {r['rule']}: {_n(r['sent'])} sent live, {_n(r['kept'])} kept; "
                       + ", ".join(why))
    out += ["", f["buyers_note"]]
    return "\n".join(out)
