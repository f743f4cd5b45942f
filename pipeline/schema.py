"""The tables' schemas, declared once and imported by every stage that reads or writes them.

A write casts to these schemas (see `conform`), so a misspelt or missing column fails at the
writer instead of three stages later.
"""
from __future__ import annotations

import pandas as pd
import pyarrow as pa

#: One row per photo file: what extract read from the file, raw and untouched.
PHOTOS = pa.schema(
    [
        ("path", pa.string()),  # absolute
        ("folder", pa.string()),  # parent folder: the unit of carry-forward
        ("file_name", pa.string()),
        ("file_size", pa.int64()),
        ("mtime_ns", pa.int64()),
        ("sha256", pa.string()),
        ("file_type", pa.string()),  # sniffed from the bytes
        ("make", pa.string()),
        ("model", pa.string()),
        ("serial", pa.string()),  # the camera body's serial number (EXIF, maker note or XMP)
        ("datetime_original", pa.string()),
        ("datetime_digitized", pa.string()),
        ("datetime", pa.string()),
        ("subsec_original", pa.string()),
        ("subsec_digitized", pa.string()),
        ("subsec", pa.string()),
        ("offset_time_original", pa.string()),
        ("offset_time_digitized", pa.string()),
        ("offset_time", pa.string()),
        ("gps_date", pa.string()),  # YYYY:MM:DD
        ("gps_time", pa.string()),  # HH:MM:SS[.fff]
        ("gps_lat", pa.float64()),
        ("gps_lon", pa.float64()),
        ("timezone_offset", pa.int32()),  # EXIF TimeZoneOffset (hours), first value: DateTimeOriginal's
        ("makernote_group", pa.string()),  # maker note holding a zone setting: Canon, Nikon
        ("makernote_timezone_minutes", pa.int32()),  # the camera's zone setting, as the maker note says
        ("makernote_dst", pa.bool_()),  # the camera's DaylightSavings setting
        ("makernote_city", pa.int32()),  # Canon TimeZoneCity code (0 n/a, 32766 not set)
        ("xmp_datetime_original", pa.string()),  # XMP exif:DateTimeOriginal, ISO as written
        ("xmp_date_created", pa.string()),  # XMP photoshop:DateCreated, ISO as written
        ("xmp_create_date", pa.string()),  # XMP xmp:CreateDate, ISO as written
        ("xmp_gps_datetime", pa.string()),  # XMP exif:GPSTimeStamp: a full UTC date-time
        ("xmp_gps_lat", pa.float64()),
        ("xmp_gps_lon", pa.float64()),
        ("sidecar_datetime_original", pa.string()),  # the XMP sidecar's own exif:DateTimeOriginal
        ("xmp_sidecar", pa.string()),  # path of the XMP sidecar read with the photo
        ("json_sidecar", pa.string()),  # path of the Google Takeout JSON read with the photo
        ("sidecar_stamp", pa.string()),  # SIZE:MTIME_NS of each sidecar read (XMP first)
        ("takeout_timestamp", pa.int64()),  # Takeout photoTakenTime.timestamp: epoch seconds, UTC
        ("takeout_lat", pa.float64()),  # Takeout geoDataExif, else geoData (0/0: none)
        ("takeout_lon", pa.float64()),
        ("error", pa.string()),  # why nothing usable could be read from the file
        ("warnings", pa.string()),  # ";"-separated problems that cost a tag, not the file
        ("reader_version", pa.int32()),  # pipeline.readers.READER_VERSION that read the row
    ]
)

#: Columns resolve adds to the photos table.
RESOLVED_EXTRA = [
    ("local_time", pa.timestamp("ms")),  # camera wall clock (after any shift), naive
    ("local_time_tag", pa.string()),
    ("clock_shift_seconds", pa.int64()),
    ("utc_offset_minutes", pa.int32()),
    ("tz_name", pa.string()),
    ("tz_source", pa.string()),
    ("evidence_path", pa.string()),
    ("capture_time_secs_utc", pa.float64()),
    ("utc_time", pa.timestamp("ms", tz="UTC")),
    ("flags", pa.string()),
    ("override_note", pa.string()),
    ("approved", pa.bool_()),
    ("approved_at", pa.string()),
    ("upload_status", pa.string()),
    ("server_key", pa.string()),
    ("uploaded_at", pa.string()),
    ("uploaded_capture_time_secs_utc", pa.float64()),  # what the server holds, when it differs
    ("uploaded_sha256", pa.string()),  # blocked_changed: the file's sha256 when it was sent
    ("segment", pa.string()),  # the trip leg: a stable short hash (folder, first path, first offset)
]

#: Photos columns an older photoflux did not write: an older table is read with them null (and
#: extract reads such rows again, so they gain the new evidence).
ADDED_PHOTOS_COLUMNS = ("warnings", "reader_version", "serial", *(
    name for name in PHOTOS.names if name.startswith(
        ("timezone_offset", "makernote_", "xmp_", "sidecar_", "json_", "takeout_"))
    and name != "xmp_date_created"))

#: Resolved columns an older photoflux did not write: read as null.
ADDED_RESOLVED_COLUMNS = (*ADDED_PHOTOS_COLUMNS, "uploaded_sha256", "segment")

RESOLVED = pa.schema(list(PHOTOS) + [pa.field(n, t) for n, t in RESOLVED_EXTRA])

#: approvals.csv: a person's yes to one photo's time (all text; the time as exact milliseconds).
APPROVALS = pa.schema([(name, pa.string()) for name in
                       ("path", "sha256", "capture_time_secs_utc", "tz_name", "approved_at")])

_NULLABLE = {
    pa.string(): pd.StringDtype(storage="pyarrow", na_value=float("nan")),
    pa.int64(): pd.Int64Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow to pandas with one dtype per column type: text stays text even when all null,
    integers and booleans stay nullable (no silent float/object casts)."""
    return table.to_pandas(types_mapper=_NULLABLE.get)


def empty(schema: pa.Schema) -> pd.DataFrame:
    """An empty DataFrame with the schema's columns and dtypes."""
    return to_pandas(schema.empty_table())


def conform(df: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """Cast a DataFrame to the schema, failing loudly on a missing or unknown column."""
    names = schema.names
    missing = [n for n in names if n not in df.columns]
    extra = [c for c in df.columns if c not in names]
    if missing or extra:
        raise ValueError(f"table does not match its schema: missing {missing}, unexpected {extra}")
    return pa.Table.from_pandas(df[names], schema=schema, preserve_index=False)


#: data/segments.parquet: one row per segment (see pipeline/segments.py: a run of photos in
#: capture order within a folder with one UTC offset and no gap over 6 hours), what a reviewer
#: checks a trip by; in order of first local time. Written by resolve, approve and unapprove.
SEGMENTS = pa.schema(
    [
        ("segment", pa.string()),  # the id: resolved's `segment`
        ("folder", pa.string()),
        ("first_local_time", pa.timestamp("ms")),
        ("last_local_time", pa.timestamp("ms")),
        ("first_utc_time", pa.timestamp("ms", tz="UTC")),
        ("last_utc_time", pa.timestamp("ms", tz="UTC")),
        ("utc_offset_minutes", pa.int32()),
        ("zones", pa.string()),  # ";"-separated tz_name values, most photos first
        ("sources", pa.string()),  # "offset:12;gps:3": tz_source counts, most first
        ("flags", pa.string()),  # "carry_gap:2;conflict:1": flag counts, most first
        ("photos", pa.int64()),
        ("approved", pa.int64()),  # photos whose approval holds
        ("needs_a_look", pa.int64()),  # photos with a flag that needs a look (pipeline/flags.py)
    ]
)


#: data/server.parquet and reports/server.csv (reconcile): one row per photo the server holds
#: for the user, as its list API gave them, and what it is to the workspace.
SERVER = pa.schema(
    [
        ("photo_id", pa.int64()),  # the server's photo id (deletion is by it)
        ("key", pa.string()),  # the server's key: guest, day, capture millisecond, sha256
        ("server_time", pa.timestamp("ms", tz="UTC")),  # the instant the server holds
        ("sha256", pa.string()),  # of the bytes on the server (the key's)
        ("file_sha256", pa.string()),  # the workspace file they are (its own bytes, or sent for it)
        ("matched_by", pa.string()),  # file (its own bytes) or ledger (bytes photoflux sent for it)
        ("path", pa.string()),  # the workspace photo compared with (an approved one first)
        ("workspace_copies", pa.int64()),  # workspace files holding those bytes
        ("approved_time", pa.timestamp("ms", tz="UTC")),  # its approved instant nearest the server's
        ("difference_seconds", pa.float64()),  # server_time - approved_time
        ("whole_hours", pa.bool_()),  # the difference is a whole number of hours (not 0): the notebook's signature
        ("verdict", pa.string()),  # same, wrong_time, duplicate, unapproved, unknown
        ("in_ledger", pa.bool_()),  # the upload ledger holds this copy as sent or adopted
    ]
)
