"""Values the tables and the command line share, in a module that imports nothing, so that the
`photoflux` command starts without pandas or pyarrow (pipeline.schema re-exports them)."""

#: Every value tz_source may take (a fallback-mode rule also reports `override`).
TZ_SOURCES = ("override", "offset", "gps", "location", "carried", "default")

#: upload_status values that mean the server holds the photo.
UPLOADED = ("uploaded", "updated")
