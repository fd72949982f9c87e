"""What every custom recognizer shares: a Presidio ``LocalRecognizer`` that builds tagged results."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult

if TYPE_CHECKING:
    from pipeline.deid.config import DeidentifyConfig
    from pipeline.deid.gazetteer import NameGazetteer


@dataclass
class BuildContext:
    """What a plug-in needs to build its Presidio recognizers for one language."""

    config: DeidentifyConfig
    language: str
    names: NameGazetteer
    english_words: frozenset[str] = field(default_factory=frozenset)


class InterviewRecognizer(LocalRecognizer):
    """A custom recognizer of this project; subclasses implement ``find(text, nlp_artifacts)``."""

    ENTITIES: tuple[str, ...] = ()
    CONTEXT: tuple[str, ...] = ()

    def __init__(self, language: str, name: str | None = None, context: list[str] | None = None):
        super().__init__(
            supported_entities=list(self.ENTITIES),
            supported_language=language,
            name=name or type(self).__name__,
            context=list(context if context is not None else self.CONTEXT),
        )

    def load(self) -> None:  # nothing to load: patterns are compiled at import
        pass

    def result(self, entity: str, start: int, end: int, score: float, why: str) -> RecognizerResult:
        return RecognizerResult(
            entity_type=entity,
            start=start,
            end=end,
            score=score,
            analysis_explanation=AnalysisExplanation(
                recognizer=self.name, original_score=score, textual_explanation=why
            ),
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        wanted = set(entities or self.ENTITIES)
        return [r for r in self.find(text, nlp_artifacts) if r.entity_type in wanted]

    def find(self, text: str, nlp_artifacts) -> list[RecognizerResult]:  # pragma: no cover - abstract
        raise NotImplementedError


def digits_of(text: str) -> str:
    return re.sub(r"\D", "", text)


def preceding_words(text: str, start: int, n: int = 6) -> list[str]:
    """The ``n`` words before ``start``, lower case (for context cues)."""
    return [w.lower() for w in re.findall(r"[\w'’]+", text[max(0, start - 80) : start])][-n:]
