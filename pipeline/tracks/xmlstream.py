"""XML read as a stream: each element is handed over at its end and then dropped from the tree,
so a track of millions of points never sits in memory whole."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import BinaryIO, Iterator


def local(tag: str) -> str:
    """'{http://www.topografix.com/GPX/1/1}trkpt' -> 'trkpt': GPX 1.0/1.1 and KML 2.0-2.2 differ
    only in their namespaces."""
    return tag.rpartition("}")[2]


def root_name(stream: BinaryIO) -> str:
    """The local name of the document's first element, reading no further than it."""
    for _, element in ET.iterparse(stream, events=("start",)):
        return local(element.tag)
    return ""


def ends(stream: BinaryIO, keep: frozenset = frozenset(), drop: frozenset = frozenset()
         ) -> Iterator[tuple[str, ET.Element, str]]:
    """(local name, element, parent's local name) at each element's end.

    After the caller has seen it an element is removed from its parent, except inside an
    element named in `keep` (its reader still needs the children when it ends) and not below a
    nearer one named in `drop` (whose children are consumed one by one as they end).
    """
    stack: list[tuple[ET.Element, str, bool]] = []  # element, local name, keeps its children
    for event, element in ET.iterparse(stream, events=("start", "end")):
        if event == "start":
            name = local(element.tag)
            keeps = name in keep or (name not in drop and bool(stack) and stack[-1][2])
            stack.append((element, name, keeps))
            continue
        _, name, _ = stack.pop()
        parent, parent_name, parent_keeps = stack[-1] if stack else (None, "", True)
        yield name, element, parent_name
        if not parent_keeps:
            parent.remove(element)


def child_text(element: ET.Element, name: str) -> str | None:
    """The text of the first child with this local name, or None."""
    for child in element:
        if local(child.tag) == name:
            return child.text
    return None
