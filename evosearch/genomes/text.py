"""``TextGenome``: a prompt (or any piece of text) evolved by LLM rewrites."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from evosearch.genomes.base import content_hash, genome_kind


@genome_kind
@dataclasses.dataclass(frozen=True)
class TextGenome:
    """A text, typically an instruction prompt.

    Attributes:
        text: The text itself.
    """

    kind: ClassVar[str] = "text"

    text: str

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise TypeError(f"TextGenome.text must be a str, got {type(self.text).__name__}")

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TextGenome:
        return cls(str(data["text"]))

    def fingerprint(self) -> str:
        return content_hash(["text", self.text])

    def summary(self) -> str:
        flat = " ".join(self.text.split())
        return f"text[{len(self.text)}]: {flat[:57] + '...' if len(flat) > 60 else flat}"
