"""photoflux: recover each photo's UTC instant from its EXIF, audit it, approve it, upload it once.

Stages are plain functions over DataFrames, callable from a notebook:

    from pipeline.extract import extract
    from pipeline.resolve import Settings, resolve

    photos = extract(["~/Pictures/2019"])
    resolved = resolve(photos, overrides=None, settings=Settings(default_tz="Europe/Berlin"))
"""
__version__ = "0.1.0"
