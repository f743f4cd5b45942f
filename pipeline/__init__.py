"""photoflux: recover each photo's UTC instant from its EXIF, audit it, approve it, upload it once.

Stages are plain functions over DataFrames, callable from a notebook:

    from pipeline.extract import extract
    from pipeline.resolve import Settings, resolve

    photos = extract(["~/Pictures/2019"])
    resolved = resolve(photos, overrides=None, settings=Settings(default_tz="Europe/Berlin"))
"""
__version__ = "0.1.0"

#: What the tag readers (pipeline.readers) read, as a number: raised whenever they read a file
#: differently (a new column, a tag read anew), so extract reads again the rows an older reader
#: wrote. 1: before issue 11 (no reader_version column); 2: per-tag faults, TimeZoneOffset, the
#: maker-note zone, every XMP column; 3: the camera's serial number. Kept here, not in
#: pipeline.readers, so that an unchanged rerun's fingerprint does not import the readers.
READER_VERSION = 3
