"""What the kernel says of a process (Linux ``/proc``), for the watchdogs of the
engine's worker processes (heavy admin jobs, forecasts): its resident memory
and the CPU time it has used. Both None once the process has ended (a zombie
has no memory left to speak of and uses no more time)."""

from __future__ import annotations

import os

_TICK = os.sysconf("SC_CLK_TCK")


def rss(pid: int | str = "self") -> int | None:
    """The resident bytes of a running process (``VmRSS``)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def cpu_seconds(pid: int | str = "self") -> float | None:
    """The CPU time a running process has used, user and system."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            # After the command's closing parenthesis: state, ppid, ...; utime
            # and stime are the 12th and 13th fields from there.
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if fields[0] == "Z":
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK
