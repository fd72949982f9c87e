"""Convert a CTranslate2 Whisper model into an openai-whisper checkpoint.

CTranslate2 writes ``model.bin`` as (``ctranslate2/specs/model_spec.py``, ``_serialize``)::

    u32 binary_version | str spec_name | u32 spec_revision | u32 n_variables
    n_variables x (str name | u8 rank | rank x u32 dim | u8 dtype | u32 n_bytes | n_bytes of data)
    u32 n_aliases | n_aliases x (str alias | str target)

where ``str`` is ``u16 length_including_nul | utf-8 bytes | nul`` and dtype indexes
(float32, int8, int16, int32, float16, bfloat16). Quantised weights come with a ``<name>_scale``
variable: int8 rows were multiplied by ``127 / amax(row)``, int16 by one ``2**10 / amax`` scalar.

Whisper's self-attention is stored fused (``linear_0`` = q|k|v, key without bias), cross-attention
as ``linear_0`` = q and ``linear_1`` = k|v. This module splits them back into openai-whisper's
``query``/``key``/``value``/``out`` names and writes ``{"dims": ..., "model_state_dict": ...,
"alignment_heads": <base85 gzip bytes>}``, which ``whisper.load_model(path)`` loads (it ignores the
extra key; :func:`alignment_heads_dump` gives the same bytes for ``model.set_alignment_heads``).
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import os
import re
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.models import file_sha256

log = logging.getLogger(__name__)

CONVERTER_VERSION = 1
CHECKPOINT_NAME = "openai-whisper.pt"
_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
_SUPPORTED_BINARY_VERSIONS = (5, 6)


class ConversionError(RuntimeError):
    """A CTranslate2 model could not be read or mapped; the message names the file or tensor."""


def read_ct2_model(model_bin: Path) -> tuple[str, dict[str, np.ndarray]]:
    """Parse ``model.bin`` into (spec name, {variable name: array}), aliases resolved.

    Quantised variables are returned as stored (int8/int16) next to their ``*_scale``;
    bfloat16 is widened to float32 (numpy has no bfloat16).
    """
    data = memoryview(Path(model_bin).read_bytes())
    pos = 0

    def take(fmt: str) -> int:
        nonlocal pos
        (value,) = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return value

    def take_str() -> str:
        nonlocal pos
        n = take("H")
        s = bytes(data[pos : pos + n - 1]).decode("utf-8")
        pos += n
        return s

    try:
        version = take("I")
        if version not in _SUPPORTED_BINARY_VERSIONS:
            raise ConversionError(f"{model_bin}: CTranslate2 binary version {version} is not supported")
        spec = take_str()
        take("I")  # spec revision
        variables: dict[str, np.ndarray] = {}
        for _ in range(take("I")):
            name = take_str()
            shape = tuple(take("I") for _ in range(take("B")))
            dtype = _DTYPES[take("B")]
            nbytes = take("I")
            if pos + nbytes > len(data):
                raise ConversionError(f"{model_bin}: truncated in tensor {name!r}")
            raw = data[pos : pos + nbytes]
            pos += nbytes
            if dtype == "bfloat16":
                arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
            else:
                arr = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))
            variables[name] = arr.reshape(shape)
        for _ in range(take("I")):
            alias, target = take_str(), take_str()
            variables[alias] = variables[target]
            if target + "_scale" in variables:  # a quantised tied weight shares its scale too
                variables[alias + "_scale"] = variables[target + "_scale"]
    except (struct.error, IndexError, KeyError, UnicodeDecodeError, ValueError) as e:
        raise ConversionError(
            f"{model_bin}: truncated or malformed CTranslate2 model ({type(e).__name__})"
        ) from e
    return spec, variables


def dequantized(variables: dict[str, np.ndarray], name: str) -> np.ndarray:
    """A weight as float (dequantised when stored as int8/int16)."""
    try:
        arr = variables[name]
    except KeyError as e:
        raise ConversionError(f"tensor {name!r} missing from the CTranslate2 model") from e
    if arr.dtype.kind == "f":
        return arr
    scale = variables.get(name + "_scale")
    if scale is None:
        raise ConversionError(f"tensor {name!r} is {arr.dtype} without a {name}_scale")
    scale = np.asarray(scale, dtype=np.float32)
    values = arr.astype(np.float32)
    if scale.ndim == 0 or scale.size == 1:
        return values / scale.reshape(())
    rows = values.reshape(values.shape[0], -1) / scale.reshape(-1, 1)
    return rows.reshape(arr.shape)


def _count_layers(variables: dict[str, np.ndarray], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"/layer_(\d+)/")
    found = {int(m.group(1)) for k in variables if (m := pattern.match(k))}
    if not found or found != set(range(len(found))):
        raise ConversionError(f"no contiguous {prefix}/layer_N tensors in the CTranslate2 model")
    return len(found)


def model_dims(variables: dict[str, np.ndarray]) -> dict[str, int]:
    """openai-whisper's ``ModelDimensions`` derived from the tensors' shapes."""
    conv1 = variables["encoder/conv1/weight"]
    return {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(variables["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(conv1.shape[0]),
        "n_audio_head": int(variables["encoder/num_heads"]),
        "n_audio_layer": _count_layers(variables, "encoder"),
        "n_vocab": int(variables["decoder/embeddings/weight"].shape[0]),
        "n_text_ctx": int(variables["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(variables["decoder/embeddings/weight"].shape[1]),
        "n_text_head": int(variables["decoder/num_heads"]),
        "n_text_layer": _count_layers(variables, "decoder"),
    }


def _linear(sd: dict, v: dict, src: str, dst: str, bias: bool = True) -> None:
    sd[f"{dst}.weight"] = dequantized(v, f"{src}/weight")
    if bias:
        sd[f"{dst}.bias"] = dequantized(v, f"{src}/bias")


def _norm(sd: dict, v: dict, src: str, dst: str) -> None:
    sd[f"{dst}.weight"] = dequantized(v, f"{src}/gamma")
    sd[f"{dst}.bias"] = dequantized(v, f"{src}/beta")


def _split_fused(sd: dict, v: dict, src: str, dst: str, names: tuple[str, ...]) -> None:
    """Split a fused projection (q|k|v or k|v) into separate openai-whisper linears."""
    weights = np.split(dequantized(v, f"{src}/weight"), len(names), axis=0)
    biases = np.split(dequantized(v, f"{src}/bias"), len(names), axis=0)
    for name, w, b in zip(names, weights, biases, strict=True):
        sd[f"{dst}.{name}.weight"] = w
        if name != "key":  # whisper's key projection has no bias; CTranslate2 stores zeros
            sd[f"{dst}.{name}.bias"] = b


def _block(sd: dict, v: dict, src: str, dst: str, cross: bool) -> None:
    _split_fused(sd, v, f"{src}/self_attention/linear_0", f"{dst}.attn", ("query", "key", "value"))
    _linear(sd, v, f"{src}/self_attention/linear_1", f"{dst}.attn.out")
    _norm(sd, v, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
    if cross:
        _linear(sd, v, f"{src}/attention/linear_0", f"{dst}.cross_attn.query")
        _split_fused(sd, v, f"{src}/attention/linear_1", f"{dst}.cross_attn", ("key", "value"))
        _linear(sd, v, f"{src}/attention/linear_2", f"{dst}.cross_attn.out")
        _norm(sd, v, f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln")
    _linear(sd, v, f"{src}/ffn/linear_0", f"{dst}.mlp.0")
    _linear(sd, v, f"{src}/ffn/linear_1", f"{dst}.mlp.2")
    _norm(sd, v, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln")


def state_dict_from_ct2(variables: dict[str, np.ndarray], dims: dict[str, int]) -> dict[str, np.ndarray]:
    """Map CTranslate2 variable names to openai-whisper ``state_dict`` names (numpy arrays)."""
    sd: dict[str, np.ndarray] = {}
    for i in (1, 2):
        _linear(sd, variables, f"encoder/conv{i}", f"encoder.conv{i}")
    sd["encoder.positional_embedding"] = dequantized(variables, "encoder/position_encodings/encodings")
    for i in range(dims["n_audio_layer"]):
        _block(sd, variables, f"encoder/layer_{i}", f"encoder.blocks.{i}", cross=False)
    _norm(sd, variables, "encoder/layer_norm", "encoder.ln_post")
    sd["decoder.token_embedding.weight"] = dequantized(variables, "decoder/embeddings/weight")
    sd["decoder.positional_embedding"] = dequantized(variables, "decoder/position_encodings/encodings")
    for i in range(dims["n_text_layer"]):
        _block(sd, variables, f"decoder/layer_{i}", f"decoder.blocks.{i}", cross=True)
    _norm(sd, variables, "decoder/layer_norm", "decoder.ln")
    if "decoder/projection/bias" in variables and np.any(dequantized(variables, "decoder/projection/bias")):
        raise ConversionError("decoder/projection has a non-zero bias, which openai-whisper cannot represent")
    return sd


def alignment_heads_dump(config: dict[str, Any], n_text_layer: int, n_text_head: int) -> bytes | None:
    """``config.json``'s ``alignment_heads`` [[layer, head], ...] as the base85 bytes that
    ``Whisper.set_alignment_heads`` takes; None when the config has none."""
    heads = config.get("alignment_heads")
    if not heads:
        return None
    mask = np.zeros((n_text_layer, n_text_head), dtype=bool)
    for layer, head in heads:
        if not (0 <= layer < n_text_layer and 0 <= head < n_text_head):
            raise ConversionError(f"alignment head ({layer}, {head}) outside {n_text_layer}x{n_text_head}")
        mask[layer, head] = True
    return base64.b85encode(gzip.compress(mask.tobytes()))


def read_ct2_config(ct2_dir: Path) -> dict[str, Any]:
    path = ct2_dir / "config.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ConversionError(f"{path}: unreadable config.json ({type(e).__name__})") from e


def build_checkpoint(ct2_dir: Path) -> dict[str, Any]:
    """Read ``ct2_dir/model.bin`` (+ ``config.json``) and return the openai-whisper checkpoint dict."""
    import torch

    ct2_dir = Path(ct2_dir)
    spec, variables = read_ct2_model(ct2_dir / "model.bin")
    if spec != "WhisperSpec":
        raise ConversionError(f"{ct2_dir / 'model.bin'}: a {spec}, not a Whisper model")
    dims = model_dims(variables)
    sd = state_dict_from_ct2(variables, dims)
    # Keep float16 sources in float16 (lossless, half the size); dequantised weights are float32.
    state = {k: torch.from_numpy(np.array(a, copy=True)) for k, a in sd.items()}
    checkpoint: dict[str, Any] = {"dims": dims, "model_state_dict": state}
    heads = alignment_heads_dump(read_ct2_config(ct2_dir), dims["n_text_layer"], dims["n_text_head"])
    if heads is not None:
        checkpoint["alignment_heads"] = heads
    return checkpoint


def ct2_to_openai_checkpoint(ct2_dir: Path, out_path: Path) -> Path:
    """Convert ``ct2_dir`` to an openai-whisper checkpoint at ``out_path`` (atomic), built once.

    A sidecar ``<out_path>.json`` records the source ``model.bin`` sha256, the checkpoint's sha256
    and the converter version; when all match, the existing file is reused.
    """
    import torch

    ct2_dir, out_path = Path(ct2_dir), Path(out_path)
    source_sha = file_sha256(ct2_dir / "model.bin")
    sidecar = out_path.with_name(out_path.name + ".json")
    if out_path.is_file() and sidecar.is_file():
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            meta = {}
        if (
            meta.get("source_sha256") == source_sha
            and meta.get("converter_version") == CONVERTER_VERSION
            and meta.get("checkpoint_sha256") == file_sha256(out_path)
        ):
            log.debug("reusing converted checkpoint %s", out_path.name)
            return out_path
        log.warning("converted checkpoint %s is stale or corrupt; rebuilding", out_path)
    checkpoint = build_checkpoint(ct2_dir)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", dir=out_path.parent)
    os.close(fd)
    try:
        torch.save(checkpoint, tmp)
        meta = {
            "source_sha256": source_sha,
            "checkpoint_sha256": file_sha256(Path(tmp)),
            "converter_version": CONVERTER_VERSION,
            "dims": checkpoint["dims"],
        }
        os.replace(tmp, out_path)
        _write_text_atomic(sidecar, json.dumps(meta, indent=1))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    log.info("converted %s to openai-whisper checkpoint %s", ct2_dir.name, out_path)
    return out_path


def _write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def checkpoint_path_for(model_dir: Path, model_sha256: str, cache_dir: Path) -> Path:
    """Where the converted checkpoint of a resolved model lives.

    Next to the model when the model itself lives in the cache (assembled ``base``, hub downloads);
    otherwise (read-only package directories, the user's own folders) under
    ``<cache_dir>/openai-whisper/<sha256 prefix>/``, so nothing is written into them.
    """
    model_dir, cache_dir = Path(model_dir).resolve(), Path(cache_dir).resolve()
    if model_dir.is_relative_to(cache_dir):
        return model_dir / CHECKPOINT_NAME
    return cache_dir / "openai-whisper" / model_sha256[:16] / CHECKPOINT_NAME
