"""pipeline.readers.xmp: the xmp_* columns of an XMP packet, in every form writers use."""
from __future__ import annotations

import io
import struct

import pillow_heif
import pytest
from PIL import Image, PngImagePlugin

from pipeline.readers import read_tags
from pipeline.readers.xmp import XMP_COLUMNS, xmp_fields

pillow_heif.register_heif_opener()

RDF = 'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
NAMESPACES = {
    "exif": "http://ns.adobe.com/exif/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
}


def packet(body: str = "", attributes: str = "", **prefixes: str) -> bytes:
    """An XMP packet with one rdf:Description holding `attributes` and `body`, declaring
    `prefixes` (prefix=namespace URI)."""
    declared = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in prefixes.items())
    return (f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF {RDF}>'
            f'<rdf:Description rdf:about="" {declared} {attributes}>{body}</rdf:Description>'
            f'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>').encode()


def test_attribute_form_keeps_each_date_as_written():
    fields = xmp_fields(packet(attributes=(
        'exif:DateTimeOriginal="2019-05-05T10:00:00.12+02:00"\n'
        "  photoshop:DateCreated='2019-05-05T10:00:00' xmp:CreateDate = \"2019-05-05T08:00:00Z\""),
        **NAMESPACES))
    assert fields["xmp_datetime_original"] == "2019-05-05T10:00:00.12+02:00"
    assert fields["xmp_date_created"] == "2019-05-05T10:00:00"
    assert fields["xmp_create_date"] == "2019-05-05T08:00:00Z"
    assert fields["warnings"] == []


def test_element_form_and_the_first_item_of_a_sequence():
    fields = xmp_fields(packet(
        "<exif:DateTimeOriginal>\n 2008-05-25T19:31:26.0+1:00 </exif:DateTimeOriginal>"
        "<xmp:CreateDate><rdf:Seq><rdf:li>2008-05-25T20:31:26+02:00</rdf:li>"
        "<rdf:li>2009-01-01</rdf:li></rdf:Seq></xmp:CreateDate>"
        '<photoshop:DateCreated><rdf:Alt><rdf:li xml:lang="x-default">1998-07</rdf:li>'
        "</rdf:Alt></photoshop:DateCreated>", **NAMESPACES))
    assert fields["xmp_datetime_original"] == "2008-05-25T19:31:26.0+1:00"
    assert fields["xmp_create_date"] == "2008-05-25T20:31:26+02:00"
    assert fields["xmp_date_created"] == "1998-07"  # partial: resolve decides it is no time


def test_prefixes_are_mapped_by_the_namespace_the_packet_declares():
    fields = xmp_fields(packet(
        "<xap:CreateDate>2011-03-12T15:36:11.00+01:00</xap:CreateDate>"
        '<e:DateTimeOriginal>2011-03-12T15:36:11</e:DateTimeOriginal><ps:DateCreated>2011-03-12'
        "</ps:DateCreated>", xap=NAMESPACES["xmp"], e=NAMESPACES["exif"], ps=NAMESPACES["photoshop"]))
    assert fields["xmp_create_date"] == "2011-03-12T15:36:11.00+01:00"
    assert fields["xmp_datetime_original"] == "2011-03-12T15:36:11"
    assert fields["xmp_date_created"] == "2011-03-12"


def test_a_usual_prefix_bound_to_another_namespace_is_not_that_property():
    fields = xmp_fields(packet("<exif:DateTimeOriginal>2011-03-12T15:36:11</exif:DateTimeOriginal>",
                               exif="http://example.com/not-exif/"))
    assert fields["xmp_datetime_original"] is None


def test_a_packet_declaring_no_namespace_is_read_by_the_usual_prefixes():
    fields = xmp_fields(b'<x:xmpmeta><rdf:Description exif:DateTimeOriginal="2013-07-05T03:18:27Z"'
                        b' exif:GPSLatitude="52,30.5112N"/></x:xmpmeta>')
    assert fields["xmp_datetime_original"] == "2013-07-05T03:18:27Z"
    assert fields["xmp_gps_lat"] == pytest.approx(52 + 30.5112 / 60)


def test_similar_names_and_self_closed_structures_are_not_the_property():
    fields = xmp_fields(packet(
        '<exif:DateTimeOriginalNote>2001-01-01</exif:DateTimeOriginalNote>'
        '<xmp:CreateDate rdf:parseType="Resource"/>'
        ' <xmp:CreateDateX>2002-02-02</xmp:CreateDateX>', **NAMESPACES))
    assert fields["xmp_datetime_original"] is None and fields["xmp_create_date"] is None


def test_the_property_is_found_behind_a_large_block_and_its_name_under_other_prefixes():
    fields = xmp_fields(packet(
        "<xmpGImg:image>" + "QUFB" * 100_000 + "</xmpGImg:image>"  # a thumbnail, 400 kB
        "<myexif:DateTimeOriginal>2001-01-01</myexif:DateTimeOriginal>"
        "<other:DateTimeOriginal>2002-02-02</other:DateTimeOriginal>"
        "<exif:DateTimeOriginal>2004-04-04T04:04:04</exif:DateTimeOriginal>",
        other="http://example.com/other/", **NAMESPACES))
    assert fields["xmp_datetime_original"] == "2004-04-04T04:04:04"


def test_gps_clock_is_the_full_utc_date_time_as_written():
    fields = xmp_fields(packet("<exif:GPSTimeStamp>2023-11-15T12:30:00Z</exif:GPSTimeStamp>",
                               exif=NAMESPACES["exif"]))
    assert fields["xmp_gps_datetime"] == "2023-11-15T12:30:00Z"


@pytest.mark.parametrize("lat, lon, expected", [
    ("48,53.323582N", "21,2.595070E", (48 + 53.323582 / 60, 21 + 2.59507 / 60)),
    ("33,51,54S", "151,12,36W", (-(33 + 51 / 60 + 54 / 3600), -(151 + 12 / 60 + 36 / 3600))),
    ("0,0.0N", "0,0.0E", (0.0, 0.0)),
    ("52.5085s", "13.4n", (None, None)),  # a longitude written with N is unreadable
])
def test_gps_position_from_the_coordinate_forms(lat, lon, expected):
    fields = xmp_fields(packet(f'<exif:GPSLatitude>{lat}</exif:GPSLatitude>'
                               f'<exif:GPSLongitude>{lon}</exif:GPSLongitude>', **NAMESPACES))
    if expected[1] is None:
        assert fields["xmp_gps_lat"] == pytest.approx(-52.5085)
        assert fields["xmp_gps_lon"] is None
        assert fields["warnings"] == ["XMP GPSLongitude unreadable (13.4n)"]
    else:
        assert (fields["xmp_gps_lat"], fields["xmp_gps_lon"]) == pytest.approx(expected)
        assert fields["warnings"] == []


@pytest.mark.parametrize("lat, lon, warning", [
    ("213,38.4N", "10,0.0E", "XMP GPSLatitude out of range (213,38.4N)"),
    ("45,61.0N", "10,0.0E", "XMP GPSLatitude out of range (45,61.0N)"),
    ("45,0.0N", "181,0.0W", "XMP GPSLongitude out of range (181,0.0W)"),
    ("north-ish", "10,0.0E", "XMP GPSLatitude unreadable (north-ish)"),
])
def test_a_bad_coordinate_is_null_with_a_warning_and_the_rest_is_kept(lat, lon, warning):
    fields = xmp_fields(packet(f'<exif:GPSLatitude>{lat}</exif:GPSLatitude>'
                               f'<exif:GPSLongitude>{lon}</exif:GPSLongitude>'
                               "<xmp:CreateDate>2020-01-01T10:00:00</xmp:CreateDate>", **NAMESPACES))
    assert fields["warnings"] == [warning]
    assert fields["xmp_create_date"] == "2020-01-01T10:00:00"
    assert None in (fields["xmp_gps_lat"], fields["xmp_gps_lon"])


def test_a_date_that_is_no_date_is_null_with_a_warning():
    fields = xmp_fields(packet("<photoshop:DateCreated>last summer</photoshop:DateCreated>"
                               "<xmp:CreateDate>2019:05:05 10:00:00</xmp:CreateDate>", **NAMESPACES))
    assert fields["xmp_date_created"] is None
    assert fields["warnings"] == ["XMP DateCreated is not a date (last summer)"]
    assert fields["xmp_create_date"] == "2019:05:05 10:00:00"  # EXIF's colons, as some write


def test_entities_are_unescaped_and_utf16_packets_read():
    text = packet("<xmp:CreateDate>&#50;019-05-05T10:00:00</xmp:CreateDate>", **NAMESPACES)
    for encoded in (text, text.decode().encode("utf-16-le"), text.decode().encode("utf-16-be")):
        assert xmp_fields(encoded)["xmp_create_date"] == "2019-05-05T10:00:00"


def test_garbage_gives_nulls_not_an_exception():
    fields = xmp_fields(b"\xff\xfe\x00<exif:GPSLatitude>" + bytes(range(256)))
    assert all(fields[column] is None for column in XMP_COLUMNS)


def test_read_tags_fills_the_columns_and_warnings_from_an_embedded_packet():
    xmp = packet("<exif:GPSLatitude>213,38.4N</exif:GPSLatitude>"
                 "<exif:DateTimeOriginal>2022-04-24T10:35:53.358+02:00</exif:DateTimeOriginal>",
                 **NAMESPACES)
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "JPEG", xmp=xmp)
    tags = read_tags(io.BytesIO(out.getvalue()))
    assert tags["xmp_datetime_original"] == "2022-04-24T10:35:53.358+02:00"
    assert tags["warnings"] == "XMP GPSLatitude out of range (213,38.4N)"
    assert tags["error"] is None


# --- the packet in each container -------------------------------------------------------------

CREATED = packet("<xmp:CreateDate>2019-05-05T10:00:00.12+02:00</xmp:CreateDate>", **NAMESPACES)


def saved(fmt: str, **options) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, fmt, **options)
    return out.getvalue()


def png_with_itxt() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", CREATED.decode(), zip=True)
    return saved("PNG", pnginfo=info)


def cr3_with_xmp_box() -> bytes:
    def box(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", 8 + len(payload)) + kind + payload
    xmp_uuid = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
    return box(b"ftyp", b"crx \x00\x00\x00\x01crx isom") + box(b"uuid", xmp_uuid + CREATED)


@pytest.mark.parametrize("make", [
    lambda: saved("JPEG", xmp=CREATED),
    lambda: saved("WEBP", xmp=CREATED),
    lambda: saved("TIFF", tiffinfo={700: CREATED}),
    lambda: saved("HEIF", xmp=CREATED),
    png_with_itxt,
    cr3_with_xmp_box,
], ids=["jpeg", "webp", "tiff", "heif", "png-itxt", "cr3-uuid"])
def test_every_container_hands_its_packet_to_xmp_fields(make):
    tags = read_tags(io.BytesIO(make()))
    assert tags["xmp_create_date"] == "2019-05-05T10:00:00.12+02:00"


def app1(payload: bytes) -> bytes:
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def test_jpeg_extended_xmp_carries_the_rest_of_the_packet():
    guid = b"04B9E48040A30A6308713BD1E4223B41"
    main = packet(f'<xmpNote:HasExtendedXMP>{guid.decode()}</xmpNote:HasExtendedXMP>',
                  xmpNote="http://ns.adobe.com/xmp/note/")
    rest = packet("<exif:DateTimeOriginal>2008-10-20T19:54:15</exif:DateTimeOriginal>"
                  "<exif:GPSLatitude>52,30.5112N</exif:GPSLatitude>", **NAMESPACES)
    half = len(rest) // 2

    def extension(chunk_guid: bytes, offset: int, chunk: bytes) -> bytes:
        return app1(b"http://ns.adobe.com/xmp/extension/\x00" + chunk_guid
                    + struct.pack(">II", len(rest), offset) + chunk)

    image = saved("JPEG")
    segments = (app1(b"http://ns.adobe.com/xap/1.0/\x00" + main)
                + extension(guid, half, rest[half:]) + extension(guid, 0, rest[:half])
                + extension(b"F" * 32, 0, rest.replace(b"2008-10-20", b"1999-01-01")))
    tags = read_tags(io.BytesIO(image[:2] + segments + image[2:]))
    assert tags["xmp_datetime_original"] == "2008-10-20T19:54:15"
    assert tags["xmp_gps_lat"] == pytest.approx(52 + 30.5112 / 60)
