"""Rubrics as data: the criteria a judge rules on, one verdict each plus overall.

Built-in rubrics live here, at version 1; custom ones are registered over the
API and stored versioned (an edit is a new version). A run keeps a snapshot of
the definition it was created with, so later edits never change its meaning.
"""

import hashlib
import json
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from judge_service.text import Text

OVERALL = "overall"
Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class Axis(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: Slug
    description: Annotated[Text, Field(min_length=1, max_length=1000)]
    needs_reference: bool = Field(
        default=False, description="Judged only when the pair has a reference answer"
    )


class RubricDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,59}$")]
    description: Annotated[Text, Field(max_length=2000)] = ""
    axes: list[Axis] = Field(default_factory=list, max_length=8)
    overall: Annotated[Text, Field(min_length=1, max_length=2000)]

    @model_validator(mode="after")
    def _axis_names_unique(self) -> "RubricDefinition":
        names = [axis.name for axis in self.axes]
        if len(set(names)) != len(names) or OVERALL in names:
            raise ValueError(f"axis names must be unique and not {OVERALL!r}")
        return self

    def axes_for(self, has_reference: bool) -> list[Axis]:
        return [axis for axis in self.axes if has_reference or not axis.needs_reference]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = json.loads(self.model_dump_json())
        return data


REASONING_TRACE = RubricDefinition(
    name="reasoning-trace",
    description="Medical (visual) reasoning: perception, knowledge, rationale, answer.",
    axes=[
        Axis(
            name="perception",
            description="What the trace says the image shows: findings named are really "
            "visible and nothing important that is visible is missed.",
        ),
        Axis(
            name="knowledge",
            description="Medical facts stated are correct and relevant to the question.",
        ),
        Axis(
            name="rationale",
            description="Each step follows from the previous ones and the steps actually "
            "support the final answer; no leaps, no contradictions.",
        ),
        Axis(
            name="answer",
            description="The final answer agrees with the reference answer.",
            needs_reference=True,
        ),
    ],
    overall="Which trace reasons better overall: a correct answer reached by sound, "
    "well-grounded steps beats a correct answer reached by luck or by wrong steps.",
)

GENERAL = RubricDefinition(
    name="general",
    description="One holistic verdict.",
    overall="Which trace answers the question better: correctness first, then accuracy "
    "of the facts stated, then whether the steps support the final answer.",
)

BUILTIN: dict[str, RubricDefinition] = {r.name: r for r in (GENERAL, REASONING_TRACE)}
DEFAULT_RUBRIC = GENERAL.name
