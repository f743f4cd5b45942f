"""The audit a person reads before approving: one page (audit.html) and a workbook (audit.xlsx),
both built from the resolved table.

- page.py: the page, segments first, with thumbnails, the timeline and the map, self-contained;
  a list of sections, so a later stage adds its own (`Page.render(jpegs, sections=[Section(...)])`);
- plot.py and worldmap.py: the timeline and the map, as plotly JSON;
- thumbs.py: the thumbnails, made once per file into a cache (the only module that reads files);
- workbook.py: the workbook; tables.py and columns.py: what both share.

Everything but thumbs.py is pure: DataFrames in, text or bytes out; runner writes the files.
"""
from .page import Page, Rendered, Section, html_page, server_section
from .tables import ALL, NO_SOURCE, flag_counts, segments_table, summary
from .workbook import NO_OVERRIDES, workbook_bytes

__all__ = ["ALL", "NO_OVERRIDES", "NO_SOURCE", "Page", "Rendered", "Section", "flag_counts",
           "html_page", "segments_table", "server_section", "summary", "workbook_bytes"]
