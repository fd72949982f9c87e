"""Export settings: defaults, unknown formats and keys rejected with a message that names them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.export import WRITERS, ExportConfig


def test_defaults_export_txt_docx_and_qdpx_with_timestamps_and_without_audio():
    cfg = ExportConfig()
    assert (cfg.formats, cfg.timestamps, cfg.include_audio_in_qdpx) == (["txt", "docx", "qdpx"], True, False)


@pytest.mark.parametrize(
    ("formats", "named"),
    [(["pdf"], "'pdf'"), (["txt", "TXT"], "'TXT'"), (["docx", "nvivo.txt", "rtf"], "'nvivo.txt', 'rtf'")],
)
def test_unknown_format_is_an_error_naming_it_and_listing_the_known_ones(formats, named):
    with pytest.raises(ValidationError) as e:
        ExportConfig(formats=formats)
    message = str(e.value)
    assert f"unknown export format(s): {named}" in message
    assert "known: " + ", ".join(WRITERS) in message


def test_unknown_key_is_rejected():
    with pytest.raises(ValidationError, match="include_audio"):
        ExportConfig.model_validate({"formats": ["txt"], "include_audio": True})


def test_repeated_formats_are_written_once_in_the_order_given():
    assert ExportConfig(formats=["qdpx", "txt", "qdpx"]).formats == ["qdpx", "txt"]


def test_every_registered_writer_is_a_valid_format():
    assert ExportConfig(formats=list(WRITERS)).formats == list(WRITERS)


def test_project_name_cannot_be_empty():
    with pytest.raises(ValidationError, match="project_name"):
        ExportConfig(project_name="")
