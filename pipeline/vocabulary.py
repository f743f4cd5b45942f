"""The words the tables use: tz sources, flags and upload statuses. A module that imports
nothing, so that the `photoflux` command (its --source choices, a rerun with nothing to upload)
starts without pandas or pyarrow."""

#: Every value tz_source may take, in order of precedence (a fallback-mode rule also reports
#: `override`; an XMP offset, below `camera`, reports `offset`).
TZ_SOURCES = ("override", "offset", "gps", "camera", "location", "track", "takeout", "carried", "default")

#: Every flag resolve may raise, in the order `flags` lists them.
FLAGS = ("no_capture_time_tag", "no_time", "out_of_range", "time_from_name", "conflict",
         "stale_gps", "gps_lag", "stale_takeout", "null_island", "sidecar_time_differs",
         "carry_gap", "ambiguous", "nonexistent", "fixed_offset_default", "shifted",
         "clock_shifted", "track_ambiguous", "track_conflict")

#: upload_status values that mean the server holds the photo.
UPLOADED = ("uploaded", "updated")
