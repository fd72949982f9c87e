"""Settings of the speakers stage: one pydantic model, every field defaulted, unknown keys rejected.

The defaults of the embedding back-end were tuned on ../shared/eval/speakers (sample.wav and the
twelve AMI excerpts) and the two sample interviews; ``docs/speakers.md`` gives the measured figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

BackendName = Literal["auto", "embedding", "channel", "pyannote", "none"]
SPEAKER_ID_PATTERN = r"^S[1-9][0-9]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LabelsConfig(_Strict):
    interviewer: str = Field("Interviewer", description="Label of the speaker whose role is interviewer.")
    participant: str = Field(
        "Participant", description="Label of the only participant (two-person interview)."
    )
    group_participant: str = Field(
        "P{n}", description="Label of participants in groups; {n} counts from 1 in order of first speech."
    )
    single: str = Field("Speaker", description="Label when only one voice was found and no role was given.")


class OverlapConfig(_Strict):
    mark: bool = Field(True, description="Set segment.overlap where the back-end found two voices at once.")
    marker: str | None = Field(
        None, description="Also append this text to overlapped segments, e.g. '//' (null: none)."
    )
    min_seconds: float = Field(0.2, ge=0, description="Ignore overlaps shorter than this.")


class ChannelConfig(_Strict):
    """When is a multi-channel recording 'one speaker per channel'? (rule in docs/speakers.md)."""

    max_correlation: float = Field(
        0.5, ge=0, le=1, description="|Waveform correlation| above this: the channels carry the same mix."
    )
    max_envelope_correlation: float = Field(
        0.5,
        ge=-1,
        le=1,
        description="Correlation of the channels' level curves (dB, active frames) above this: same voices.",
    )
    min_dominance_db: float = Field(
        6.0,
        ge=0,
        description="A frame is dominated by one channel when it is this much louder than the other.",
    )
    min_dominant_fraction: float = Field(
        0.5,
        ge=0,
        le=1,
        description="At least this fraction of the active frames must be dominated by one channel.",
    )
    active_db: float = Field(-45.0, description="A channel frame is active above this level (dBFS)...")
    active_above_floor_db: float = Field(
        12.0, ge=0, description="...and this far above the channel's noise floor (10th percentile)."
    )
    frame_seconds: float = Field(0.032, gt=0, description="Energy frame length.")
    overlap_within_db: float = Field(
        10.0,
        ge=0,
        description="Two active channels within this many dB of each other: both voices speak (overlap).",
    )
    min_gap: float = Field(0.3, ge=0, description="Join a channel's speech separated by less than this (s).")


class EmbeddingConfig(_Strict):
    """Silero VAD -> Resemblyzer embeddings on sliding windows -> clustering -> turns."""

    vad_threshold: float = Field(
        0.15, gt=0, lt=1, description="Silero speech probability above which a 32 ms frame is speech."
    )
    vad_min_silence: float = Field(
        1.0, ge=0, description="Join speech regions separated by less than this (s)."
    )
    vad_min_speech: float = Field(0.2, ge=0, description="Drop speech regions shorter than this (s).")
    vad_pad: float = Field(0.2, ge=0, description="Widen speech regions by this on each side (s).")
    gain_dbfs: float = Field(
        -20.0,
        le=0,
        description="Level the speech to this RMS before embedding (Resemblyzer's input is not log-scaled).",
    )
    window: float = Field(1.0, gt=0.2, le=3.0, description="Embedding window (s).")
    hop: float = Field(0.25, gt=0.02, le=3.0, description="Embedding hop (s).")
    min_speaker_seconds: float = Field(
        2.0, ge=0, description="A cluster covering less speech than this is merged into its nearest cluster."
    )
    silhouette_min: float = Field(
        0.2, ge=-1, le=1, description="Below this best silhouette the recording has one speaker."
    )
    speaker_penalty: float = Field(
        0.02, ge=0, description="Silhouette penalty per speaker beyond two (favours fewer speakers)."
    )
    merge_similarity: float = Field(
        0.9,
        ge=-1,
        le=1,
        description="Clusters whose centroids are at least this cosine-similar are one speaker.",
    )
    overlap_detection: bool = Field(
        False,
        description="Opt-in: give a second speaker to speech whose windows sit between two clusters "
        "(measured precision ~0.4 on AMI; docs/speakers.md).",
    )
    overlap_margin: float = Field(
        0.1,
        gt=0,
        le=2,
        description="Second voice where the two best clusters' mean cosine similarities differ by less than this...",
    )
    overlap_min_share: float = Field(
        0.2,
        ge=0,
        le=0.5,
        description="...and at least this share of the covering windows carry the second cluster's label...",
    )
    overlap_min_seconds: float = Field(0.5, ge=0, description="...for at least this long (s).")
    segmentation: bool = Field(
        True,
        description="Use pyannote segmentation-3.0 (fetched with the models) to find overlapped speech and "
        "to keep one voice as one speaker; without the model the stage runs without both and logs it.",
    )
    segmentation_step: float = Field(
        5.0,
        ge=1.0,
        le=10.0,
        description="Hop of the 10 s segmentation chunks (s); smaller: more recall, slower.",
    )
    segmentation_overlap: float = Field(
        0.4,
        gt=0,
        lt=1,
        description="Overlap where the chunks' mean number of active speakers exceeds 1 + this.",
    )
    one_voice_seconds: float = Field(
        1.0,
        ge=0,
        description="A recording where no 10 s chunk has two local speakers with this much speech each "
        "is one speaker (unless a count is given).",
    )
    torch_threads: int = Field(
        1,
        ge=0,
        description="Torch threads for the voice encoder (0: leave as set); 1 was fastest on shared cores.",
    )
    max_cluster_windows: int = Field(
        2000,
        ge=50,
        description="Cluster at most this many windows (evenly spaced); the rest join the nearest cluster.",
    )


class PyannoteConfig(_Strict):
    model: str | None = Field(
        None, description="Local pipeline folder/config.yaml, or a hub id (needs a token and network)."
    )
    token_env: str = Field(
        "HF_TOKEN", description="Environment variable that holds the Hugging Face token, if any."
    )


class InterviewSpeakers(_Strict):
    """Overrides for one interview (key: interview id)."""

    backend: BackendName | None = None
    num_speakers: int | None = Field(None, ge=1, le=20)
    min_speakers: int | None = Field(None, ge=1, le=20)
    max_speakers: int | None = Field(None, ge=1, le=20)
    interviewer: str | None = Field(
        None, pattern=SPEAKER_ID_PATTERN, description="Speaker id of the interviewer, e.g. S2."
    )


class SpeakersConfig(_Strict):
    backend: BackendName = Field(
        "auto", description="auto: channel when channels are clearly separate, else embedding."
    )
    num_speakers: int | None = Field(
        None, ge=1, le=20, description="Known number of speakers (null: estimate)."
    )
    min_speakers: int = Field(1, ge=1, le=20)
    max_speakers: int = Field(6, ge=1, le=20)
    interviewer: str | None = Field(
        None,
        pattern=SPEAKER_ID_PATTERN,
        description="Speaker id of the interviewer in every interview (null: infer).",
    )
    interviewer_sample: Path | None = Field(
        None,
        description="Recording of the interviewer's voice; the closest speaker above enrol_threshold is the interviewer.",
    )
    enrol_threshold: float = Field(
        0.75, ge=-1, le=1, description="Cosine similarity a speaker needs to the enrolled voice."
    )
    infer_roles: bool = Field(
        True, description="Infer the interviewer from questions, first turn and turn length."
    )
    labels: LabelsConfig = Field(default_factory=LabelsConfig)
    overlap: OverlapConfig = Field(default_factory=OverlapConfig)
    channel: ChannelConfig = Field(default_factory=ChannelConfig)
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)
    pyannote: PyannoteConfig = Field(default_factory=PyannoteConfig)
    interviews: dict[str, InterviewSpeakers] = Field(
        default_factory=dict, description="Per-interview overrides."
    )

    @model_validator(mode="after")
    def _check_bounds(self) -> SpeakersConfig:
        if self.min_speakers > self.max_speakers:
            raise ValueError(f"min_speakers ({self.min_speakers}) > max_speakers ({self.max_speakers})")
        return self

    def for_interview(self, interview_id: str) -> ResolvedSpeakers:
        """The settings that apply to one interview (its overrides over the global values)."""
        o = self.interviews.get(interview_id) or InterviewSpeakers()
        num = o.num_speakers if o.num_speakers is not None else self.num_speakers
        lo = o.min_speakers if o.min_speakers is not None else self.min_speakers
        hi = o.max_speakers if o.max_speakers is not None else self.max_speakers
        if num is not None:
            lo = hi = num
        if lo > hi:
            raise ValueError(f"interviews.{interview_id}: min_speakers ({lo}) > max_speakers ({hi})")
        return ResolvedSpeakers(
            backend=o.backend or self.backend,
            num_speakers=num,
            min_speakers=lo,
            max_speakers=hi,
            interviewer=o.interviewer or self.interviewer,
        )


class ResolvedSpeakers(_Strict):
    backend: BackendName
    num_speakers: int | None
    min_speakers: int
    max_speakers: int
    interviewer: str | None
