"""GeoJSON: Point features whose properties carry an ISO `time` or `timestamp` (with Z or an
offset), in a FeatureCollection or under Overland's "locations" key."""
from __future__ import annotations

from typing import BinaryIO

import ijson

from .google import as_object
from .rows import Found


def read(stream: BinaryIO, found: Found, prefix: str = "features.item") -> None:
    for feature in ijson.items(stream, prefix, use_float=True):
        feature = as_object(feature)
        geometry, properties = as_object(feature.get("geometry")), as_object(feature.get("properties"))
        if geometry.get("type") != "Point":
            found.skip(1, f"a feature that is not a Point ({geometry.get('type')!r})")
            continue
        where = geometry.get("coordinates")
        lon, lat = (where[0], where[1]) if isinstance(where, list) and len(where) >= 2 else (None, None)
        when = properties.get("time", properties.get("timestamp"))
        found.points.add(lat, lon, when if when is None else str(when))
