"""Durations: Go's duration syntax, which Istio and Kubernetes' CEL both read, to the
millisecond."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import PlainValidator

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_NANOS = {
    "ns": Decimal(1),
    "us": Decimal(1_000),
    "µs": Decimal(1_000),
    "ms": Decimal(1_000_000),
    "s": Decimal(1_000_000_000),
    "m": Decimal(60_000_000_000),
    "h": Decimal(3_600_000_000_000),
}


def _duration_nanoseconds(value: str) -> Decimal:
    if not value:
        raise ValueError("must not be empty; write a duration such as '10s' or '250ms'")
    position = 0
    total = Decimal(0)
    while position < len(value):
        match = _DURATION_PART.match(value, position)
        if match is None:
            raise ValueError(f"{value!r} is not a duration such as '10s', '250ms' or '1h30m'")
        total += Decimal(match.group(1)) * _NANOS[match.group(2)]
        position = match.end()
    return total


def parse_duration(value: str) -> dt.timedelta:
    """Parse a Go duration string (``"10s"``, ``"1h30m"``, ``"250ms"``).

    Istio decodes durations with Go's rules and Kubernetes' CEL ``duration()`` does too,
    so this is the one syntax both the API server and istiod accept.
    """
    return dt.timedelta(microseconds=int(_duration_nanoseconds(value) // 1000))


def format_duration(value: dt.timedelta) -> str:
    """The Go duration string for ``value``: whole seconds as ``"<n>s"``, else ``"<n>ms"``."""
    micros = value // dt.timedelta(microseconds=1)
    if micros % 1_000_000 == 0:
        return f"{micros // 1_000_000}s"
    if micros % 1000 == 0:
        return f"{micros // 1000}ms"
    return f"{micros}us"


_MILLISECOND = Decimal(1_000_000)


def _check_duration(value: Any) -> str:
    if isinstance(value, dt.timedelta):
        text = format_duration(value)
        nanos = Decimal(value // dt.timedelta(microseconds=1)) * 1000
    elif isinstance(value, str):
        text = value
        nanos = _duration_nanoseconds(value)
    else:
        raise ValueError("must be a duration string such as '10s' or a datetime.timedelta")
    if nanos < _MILLISECOND:
        raise ValueError(f"{text!r}: Istio requires a duration of at least 1ms")
    if nanos % _MILLISECOND:
        raise ValueError(f"{text!r}: Istio supports durations to millisecond precision only")
    return text


Duration = Annotated[str, PlainValidator(_check_duration, json_schema_input_type=str)]
"""A duration of at least 1ms in whole milliseconds: a Go duration string or a timedelta."""
