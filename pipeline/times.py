"""Time units every stage shares: whole milliseconds, the range of times photoflux represents,
the ISO 8601 text people type, "now"."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

#: The local times photoflux represents: 1800-01-01 00:00:00 up to, not including, 2200-01-01.
#: A photo whose local time lies outside is `no_time`, flagged `out_of_range`. The bounds keep every
#: instant (local time minus at most a day of offset) inside pandas' nanosecond range (1677-2262).
TIME_RANGE = (np.datetime64("1800-01-01", "ms"), np.datetime64("2200-01-01", "ms"))
#: The largest clock correction (`shift`) a rule may make: 100 years of 365.25 days.
MAX_SHIFT_SECONDS = 36525 * 86400

_ISO_LOCAL = (r"(?P<date>\d{4}-\d{2}-\d{2})"
              r"(?:[T ](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,3}))?)?)?")
_LOCAL_RE = re.compile(_ISO_LOCAL, re.ASCII)
_ZONE = r"(?P<zone>Z|[+-]\d{2}:\d{2})"
_INSTANT_RE = re.compile(_ISO_LOCAL + _ZONE, re.ASCII)
_TIME_OF_DAY_RE = re.compile(r"(?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,3}))?)?"
                             + _ZONE + "?", re.ASCII)
LOCAL_FORMAT = "YYYY-MM-DD[THH:MM[:SS[.fff]]]"


def now_iso() -> str:
    """The current UTC time to the second, as every manifest, ledger and approval records it."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def millis(seconds: pd.Series) -> pd.Series:
    """UTC seconds (numbers or their text) -> whole milliseconds (Int64): the unit approvals,
    the ledger and the server's keys compare in."""
    return (pd.to_numeric(seconds, errors="coerce") * 1000).round().astype("Int64")


def seconds_text(seconds: pd.Series) -> pd.Series:
    """UTC seconds -> exact millisecond text ('1400269584.123'), as approvals.csv keeps them."""
    ms = millis(seconds)
    whole, frac = ms.abs() // 1000, ms.abs() % 1000
    sign = pd.Series(np.where(ms.fillna(0) < 0, "-", ""), index=seconds.index)
    return (sign + whole.astype("string") + "." + frac.astype("string").str.zfill(3)).where(
        ms.notna())


def in_range(times: np.ndarray) -> np.ndarray:
    """Which datetime64 values lie in TIME_RANGE (NaT does not)."""
    times = np.asarray(times, dtype="datetime64[ms]")
    return (times >= TIME_RANGE[0]) & (times < TIME_RANGE[1])


def parse_local(text: str, *, end: bool = False) -> pd.Timestamp:
    """A local time a person typed, ISO 8601 only: YYYY-MM-DD[THH:MM[:SS[.fff]]] (a space for
    the T is fine). A bare date as the `end` of a range means the whole of that day.
    Anything else raises ValueError saying what is wrong; nothing is guessed."""
    match = _LOCAL_RE.fullmatch(text.strip())
    if match is None:
        if _INSTANT_RE.fullmatch(text.strip()):
            raise ValueError("a local time has no zone")
        raise ValueError(f"expected an ISO 8601 local time {LOCAL_FORMAT}")
    return _wall_clock(match, end)


def parse_instant(text: str, *, end: bool = False) -> pd.Timestamp:
    """An instant a person typed, ISO 8601 only: a local time as parse_local reads it followed
    by Z or ±HH:MM -> a UTC Timestamp. A bare date as the `end` of a range means the whole day."""
    match = _INSTANT_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"expected an ISO 8601 instant {LOCAL_FORMAT} with Z or ±HH:MM")
    return (_wall_clock(match, end) - _offset(match["zone"])).tz_localize("UTC")


def _offset(zone: str) -> timedelta:
    """'Z' or '±HH:MM' as a timedelta east of UTC."""
    if zone == "Z":
        return timedelta(0)
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    if hours > 23 or minutes > 59:
        raise ValueError(f"no such UTC offset {zone}")
    return (-1 if zone[0] == "-" else 1) * timedelta(hours=hours, minutes=minutes)


@dataclass(frozen=True)
class TimeOfDay:
    """A clock reading without its date, as a phone's lock screen or a GPS shows it: the time
    since midnight, of the local day, or of the UTC day when `utc` (typed with Z or ±HH:MM)."""

    since_midnight: pd.Timedelta
    utc: bool

    def nearest(self, near: pd.Timestamp) -> pd.Timestamp:
        """This reading on the day that puts it nearest to `near` (naive): at most 12 hours
        from it."""
        day = near.normalize() + self.since_midnight
        return min((day + pd.Timedelta(days=days) for days in (-1, 0, 1)),
                   key=lambda time: abs(time - near))


def parse_time(text: str) -> pd.Timestamp | TimeOfDay:
    """A time a person typed: an instant when it ends in Z or ±HH:MM (a UTC Timestamp, as
    parse_instant reads it), else a local time (naive, as parse_local reads it); either without
    its date (HH:MM[:SS[.fff]]) is a TimeOfDay."""
    text = text.strip()
    if _INSTANT_RE.fullmatch(text):
        return parse_instant(text)
    if _LOCAL_RE.fullmatch(text):
        return parse_local(text)
    match = _TIME_OF_DAY_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"expected an ISO 8601 local time {LOCAL_FORMAT} or HH:MM[:SS[.fff]], "
                         "either with Z or ±HH:MM for an instant")
    if int(match["h"]) > 23 or int(match["m"]) > 59 or int(match["s"] or 0) > 59:
        raise ValueError("no such time of day")
    since = pd.Timedelta(hours=int(match["h"]), minutes=int(match["m"]),
                         seconds=int(match["s"] or 0),
                         milliseconds=int((match["f"] or "0").ljust(3, "0")))
    if match["zone"] is None:
        return TimeOfDay(since, utc=False)
    return TimeOfDay((since - _offset(match["zone"])) % pd.Timedelta(days=1), utc=True)


def shift_text(seconds: float) -> str:
    """A clock shift in seconds as '±HH:MM:SS', with '.fff' when it has milliseconds."""
    milliseconds = round(abs(seconds) * 1000)
    whole, fraction = divmod(milliseconds, 1000)
    hours, rest = divmod(whole, 3600)
    sign = "-" if seconds < 0 and milliseconds else "+"
    text = f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{text}.{fraction:03d}" if fraction else text


def _wall_clock(match: re.Match, end: bool) -> pd.Timestamp:
    """The matched ISO digits as a naive millisecond Timestamp, checked to be a real date and
    time within TIME_RANGE."""
    try:
        value = datetime.fromisoformat(match["date"]).replace(
            hour=int(match["h"] or 0), minute=int(match["m"] or 0), second=int(match["s"] or 0),
            microsecond=int((match["f"] or "0").ljust(3, "0")) * 1000)
    except ValueError:
        raise ValueError("no such date or time") from None
    if end and match["h"] is None:
        value += timedelta(days=1, milliseconds=-1)
    stamp = np.datetime64(value, "ms")
    if not in_range(np.array([stamp]))[0]:
        raise ValueError(f"outside the times photoflux represents "
                         f"({TIME_RANGE[0].astype('datetime64[D]')} to "
                         f"{(TIME_RANGE[1] - 1).astype('datetime64[D]')})")
    return pd.Timestamp(stamp)
