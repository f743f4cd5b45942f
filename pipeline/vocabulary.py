"""The words the tables use: tz sources, flags and upload statuses. A module that imports
nothing heavy, so that the `photoflux` command (its --source choices, a rerun with nothing to
upload) starts without pandas or pyarrow."""

from .flags import FLAGS  # noqa: F401  (the flags and their kinds live in pipeline/flags.py)

#: Every value tz_source may take, in order of precedence (a fallback-mode rule also reports
#: `override`; an XMP offset, below `camera`, reports `offset`).
TZ_SOURCES = ("override", "offset", "gps", "camera", "location", "takeout", "carried", "default")

#: upload_status values that mean the server holds the photo.
UPLOADED = ("uploaded", "updated")

#: What reconcile finds each photo on the server to be, in the order its counts are given.
SERVER_VERDICTS = ("same", "wrong_time", "duplicate", "unapproved", "unknown")
