"""Run inside Taguette's venv: convert export files with Taguette's own importer, print JSON.

Usage: python taguette_convert.py FILE...

Per file: ``{"html": ..., "text": ...}`` from ``taguette.convert.to_html`` (what Taguette stores
for an uploaded document: calibre's ebook-convert for .txt/.docx, its subtitle parser for
.srt/.vtt) and ``taguette.convert.html_to_plaintext`` of that HTML; or ``{"error": ...}``.
"""

import asyncio
import json
import sys
from pathlib import Path

from taguette import convert
from taguette.main import DEFAULT_CONFIG as CONFIG  # the limits a default Taguette server uses

TYPES = {
    ".txt": "text/plain",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".srt": "application/x-subrip",
    ".vtt": "text/vtt",
}


async def main(paths):
    out = {}
    for name in paths:
        path = Path(name)
        try:
            html = await convert.to_html(path.read_bytes(), TYPES.get(path.suffix, ""), path.name, CONFIG)
        except convert.ConversionError as e:
            out[name] = {"error": str(e)}
            continue
        out[name] = {"html": html, "text": convert.html_to_plaintext(html)}
    return out


json.dump(asyncio.run(main(sys.argv[1:])), sys.stdout, ensure_ascii=False)
