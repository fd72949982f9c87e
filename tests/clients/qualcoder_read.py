"""Run inside QualCoder's venv: read export files with QualCoder's own code, print JSON.

Usage: python qualcoder_read.py QUALCODER_SRC FILE...

Per file: the text QualCoder's file import stores (``manage_files``: ``text_decoding`` for .txt,
``docx.opendocx``/``getdocumenttext`` joined by blank lines for .docx) and the time stamps its media
view finds in it (``view_av.DialogViewAV.get_timestamps_from_transcription``, called with a minimal
stand-in for the dialog that only answers ``ui.textEdit.toPlainText()``): ``[[pos0, pos1, ms], ...]``;
and per paragraph the speaker its speaker auto-coding finds with the default "Name:" identifier
(``speakers.match_speaker_turn``), with "Filter time stamps" off (the default) and on.
"""

import builtins
import gettext
import json
import os
import sys
import types
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
builtins._ = gettext.gettext
sys.path.insert(0, str(Path(sys.argv[1]) / "src"))

from qualcoder import speakers, view_av  # noqa: E402
from qualcoder.docx import getdocumenttext, opendocx  # noqa: E402
from qualcoder.text_decoding import decode_text_with_best_encoding  # noqa: E402


def imported_text(path: Path) -> str:
    if path.suffix.lower() == ".docx":  # as manage_files.load_file_text does
        return "\n\n".join(getdocumenttext(opendocx(str(path))))
    return decode_text_with_best_encoding(path)[0]


def stamps(text: str) -> list:
    dialog = types.SimpleNamespace(
        ui=types.SimpleNamespace(textEdit=types.SimpleNamespace(toPlainText=lambda: text))
    )
    view_av.DialogViewAV.get_timestamps_from_transcription(dialog)
    return dialog.time_positions


def speaker_names(text: str, filter_ts: bool) -> list:
    pattern = speakers.identifier_regex("name")
    found = []
    for line in (p for p in text.split("\n") if p.strip()):
        m = speakers.match_speaker_turn(pattern, speakers.blank_timestamps(line) if filter_ts else line)
        found.append(m[0] if m else None)
    return found


out = {}
for name in sys.argv[2:]:
    text = imported_text(Path(name))
    out[name] = {
        "text": text,
        "stamps": stamps(text),
        "speakers": speaker_names(text, False),
        "speakers_filtered": speaker_names(text, True),
    }
json.dump(out, sys.stdout, ensure_ascii=False)
