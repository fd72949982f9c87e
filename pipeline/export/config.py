"""Export settings: which formats to write and how."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ExportConfig(BaseModel):
    """Settings of the export stage (the ``export:`` section of a config file)."""

    model_config = ConfigDict(extra="forbid")

    formats: list[str] = Field(
        default_factory=lambda: ["txt", "docx", "qdpx"],
        description="Formats to write, by writer name: txt, docx, docx_table, nvivo, maxqda, qdpx, "
        "srt, vtt, json, csv. Repeats are written once.",
    )
    timestamps: bool = Field(
        default=True,
        description="Put a [hh:mm:ss] stamp (whole seconds, rounded down) in each turn of the readable "
        "txt ('Speaker: [hh:mm:ss] text') and docx ('[hh:mm:ss] Speaker: text') transcripts. "
        "Tool formats (nvivo, maxqda, qdpx, docx_table, srt, vtt, csv, json) always carry times.",
    )
    include_audio_in_qdpx: bool = Field(
        default=False,
        description="Put each interview's recording into project.qdpx (an AudioSource with the "
        "transcript synced to it). The recording is identifiable: off by default.",
    )
    project_name: str = Field(
        default="Interview transcripts",
        min_length=1,
        description="Name of the REFI-QDA project (what a coding tool shows for project.qdpx).",
    )

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, formats: list[str]) -> list[str]:
        from pipeline.export.registry import WRITERS

        unknown = [f for f in formats if f not in WRITERS]
        if unknown:
            raise ValueError(
                f"unknown export format(s): {', '.join(map(repr, unknown))}; known: {', '.join(WRITERS)}"
            )
        return list(dict.fromkeys(formats))
