"""Go durations: the parser and printer live in :mod:`podeip.api.durations`.

``releaseAfter`` is a PodEIP wire field in Go's duration syntax, and the settings (below the
domain) validate ``maxReleaseAfter`` with the same grammar, so the one implementation sits in
the API layer; this module keeps the domain's name for it.
"""

from podeip.api.durations import (
    HOUR,
    MICROSECOND,
    MILLISECOND,
    MINUTE,
    NANOSECOND,
    SECOND,
    UNITS,
    DurationError,
    format_go_duration,
    parse_go_duration,
    parse_release_after,
    to_nanoseconds,
    to_timedelta,
)

__all__ = [
    "HOUR",
    "MICROSECOND",
    "MILLISECOND",
    "MINUTE",
    "NANOSECOND",
    "SECOND",
    "UNITS",
    "DurationError",
    "format_go_duration",
    "parse_go_duration",
    "parse_release_after",
    "to_nanoseconds",
    "to_timedelta",
]
