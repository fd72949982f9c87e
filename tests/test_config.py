"""Configuration: invalid files are errors naming the file and key, never a silent fall-back."""

from __future__ import annotations

import pytest

from pipeline.cli import main
from pipeline.config import ConfigError, load_config


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("transcribe: [unclosed", "invalid YAML at line"),
        ("transcribe:\n  modle: base\n", "transcribe.modle: unknown key"),
        ("transcribe:\n  beam_size: 0\n", "transcribe.beam_size"),
        ("- just\n- a list\n", "top level must be a mapping"),
        ("nonsense_section: {}\n", "nonsense_section: unknown key"),
    ],
)
def test_invalid_config_names_file_and_key(text, expected, tmp_path):
    p = tmp_path / "study.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert str(p) in str(exc.value) and expected in str(exc.value)


def test_defaults_and_overrides():
    c = load_config(None, {"transcribe.model": "tiny.en", "transcribe.language": None})
    assert c.transcribe.model == "tiny.en" and c.transcribe.engine == "faster-whisper"
    assert c.transcribe.verbatim.enabled


def test_cli_reports_bad_config_with_exit_2(tmp_path, capsys):
    p = tmp_path / "bad.yaml"
    p.write_text("transcribe:\n  engine: whisperx\n")
    code = main(["run", str(tmp_path), "--out", str(tmp_path / "out"), "--config", str(p), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "bad.yaml" in err and "transcribe.engine" in err
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_shipped_configs_are_valid():
    from pathlib import Path

    for p in sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml")):
        load_config(p)


def test_default_yaml_is_the_defaults():
    from pathlib import Path

    from pipeline.config import PipelineConfig

    p = Path(__file__).resolve().parents[1] / "configs" / "default.yaml"
    assert load_config(p) == PipelineConfig()
