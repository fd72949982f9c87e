"""The decisions file's schema (version 2, pydantic) and the migration from version 1.

Version 2 adds to version 1's redaction decisions and list additions:

- ``corrections``: groups, each replacing a run of consecutive original segments (``replaces``, their
  ids in order) by new segments (``segments``: ``id``, ``speaker`` id, ``text``, ``overlap``). One
  segment for one is an edit (words or speaker), two for one a split, one for two a merge, none a
  deletion. A new segment keeps an id from ``replaces`` or takes one above every original id.
- ``approved``: the reviewer approves the interview as corrected and pseudonymised.

In version 2 the offsets of an ``add`` refer to the segment's text after the corrections. A version 1
file is a version 2 file without corrections and not approved (``migrate``).

The schema checks structure only (types, keys, sizes); ``decisions.validate`` checks the content
against the interview. Error messages name the place (``decisions 3 -> start``) and the problem,
never the value: a decisions file holds personal data.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

FORMAT = "interview-pipeline/review-decisions"
VERSION = 2
SUPPORTED = (1, 2)
MAX_SEGMENT_CHARS = 20_000
MAX_ITEMS = 200_000

_STRICT = ConfigDict(extra="forbid", strict=True)


class Judge(BaseModel):
    """Accept or reject a detected replacement, by its id ``segment_id:start:end``."""

    model_config = _STRICT
    action: Literal["accept", "reject"]
    id: Annotated[StrictStr, Field(max_length=64)]


class Add(BaseModel):
    """A span the detectors missed (code-point offsets in the segment's corrected text)."""

    model_config = _STRICT
    action: Literal["add"]
    segment_id: StrictInt
    start: StrictInt
    end: StrictInt
    text: Annotated[StrictStr, Field(max_length=MAX_SEGMENT_CHARS)]
    entity_type: Annotated[StrictStr, Field(max_length=64)]


class ListAddition(BaseModel):
    model_config = _STRICT
    list: Literal["known_names", "allow_list"]
    term: StrictStr


class NewSegment(BaseModel):
    model_config = _STRICT
    id: Annotated[StrictInt, Field(ge=0)]
    speaker: Annotated[StrictStr, Field(max_length=64)] | None = None
    text: Annotated[StrictStr, Field(min_length=1, max_length=MAX_SEGMENT_CHARS)]
    overlap: StrictBool = False


class Correction(BaseModel):
    model_config = _STRICT
    replaces: Annotated[list[StrictInt], Field(min_length=1, max_length=1000)]
    segments: Annotated[list[NewSegment], Field(max_length=1000)]


Decision = Annotated[Judge | Add, Field(discriminator="action")]


class DecisionsFile(BaseModel):
    """A reviewer's downloaded decisions, version 2."""

    model_config = _STRICT
    format: Literal["interview-pipeline/review-decisions"]
    version: Literal[2]
    interview_id: Annotated[StrictStr, Field(max_length=200)]
    state_sha256: Annotated[StrictStr, Field(max_length=64)]
    reviewer: Annotated[StrictStr, Field(max_length=200)]
    created: StrictStr | None = None
    decisions: Annotated[list[Decision], Field(max_length=MAX_ITEMS)] = []
    list_additions: Annotated[list[ListAddition], Field(max_length=MAX_ITEMS)] = []
    corrections: Annotated[list[Correction], Field(max_length=MAX_ITEMS)] = []
    approved: StrictBool = False


def migrate(obj: dict[str, Any]) -> dict[str, Any]:
    """A version 1 decisions file as version 2 (no corrections, not approved); others unchanged."""
    if obj.get("version") != 1:
        return obj
    return {**obj, "version": 2, "corrections": [], "approved": False}


def _where(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for x in loc:
        if isinstance(x, int):
            parts[-1:] = [f"{parts[-1] if parts else 'item'} {x + 1}"]
        elif x not in ("Judge", "Add", "accept", "reject", "add"):
            parts.append(str(x)[:40])
    return " -> ".join(parts) or "top level"


def _msg(err: Any) -> str:
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return "'action' must be one of accept, reject, add"
    if err["type"] == "extra_forbidden":
        return "unknown key"
    return str(err["msg"]).lower()


def describe(e: ValidationError, limit: int = 3) -> str:
    """Pydantic's errors as one line: where and what, never the offending value."""
    errs = e.errors(include_input=False, include_url=False, include_context=False)
    shown = [f"{_where(tuple(err['loc']))}: {_msg(err)}" for err in errs[:limit]]
    more = f" (+{len(errs) - limit} more)" if len(errs) > limit else ""
    return "; ".join(shown) + more


def parse(obj: dict[str, Any]) -> DecisionsFile:
    """The migrated, structurally valid decisions file; ``ValueError`` with ``describe``'s message."""
    try:
        return DecisionsFile.model_validate(migrate(obj))
    except ValidationError as e:
        raise ValueError(describe(e)) from None
