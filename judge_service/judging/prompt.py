"""The pairwise judge prompt.

The user message is built from fixed section markers so that the exact prompt
is reproducible from a pair and the template id alone; `split_prompt` reads
the same markers back (the simulated provider relies on it).
"""

import hashlib
import json
from dataclasses import dataclass

TEMPLATE_ID = "pairwise-trace-v1"

SYSTEM_PROMPT = """\
You are an impartial expert judge. You will see a question (sometimes about a \
medical image), optionally a reference answer, and two reasoning traces, A and B, \
written by two AI assistants answering it.

Decide which trace reasons better. Consider, in this order: whether the final \
answer is correct (agrees with the reference answer when one is given); whether \
the facts it states are accurate; whether each step follows from the previous \
ones and actually supports the final answer. Do not favour a trace for being \
longer, for its position, or for its tone. Judge only what is written.

First explain your comparison in a few sentences. Then give your verdict on the \
last line, exactly one of:
[[A]] if trace A is better,
[[B]] if trace B is better,
[[C]] if they are equally good or equally bad."""

QUESTION_HEADER = "[Question]"
REFERENCE_HEADER = "[Reference answer]"
TRACE_A_START = "[Start of reasoning trace A]"
TRACE_A_END = "[End of reasoning trace A]"
TRACE_B_START = "[Start of reasoning trace B]"
TRACE_B_END = "[End of reasoning trace B]"

TEMPLATE_SHA256 = hashlib.sha256(
    "\n".join(
        [
            TEMPLATE_ID,
            SYSTEM_PROMPT,
            QUESTION_HEADER,
            REFERENCE_HEADER,
            TRACE_A_START,
            TRACE_A_END,
            TRACE_B_START,
            TRACE_B_END,
        ]
    ).encode()
).hexdigest()


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str

    @property
    def sha256(self) -> str:
        """Hash of the exact messages sent, so a stored judgment names its prompt."""
        payload = json.dumps([self.system, self.user], ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class PromptParts:
    question: str
    reference_answer: str | None
    trace_a: str
    trace_b: str


def render_prompt(
    question: str, reference_answer: str | None, trace_a: str, trace_b: str
) -> Prompt:
    sections = [QUESTION_HEADER, question.strip(), ""]
    if reference_answer:
        sections += [REFERENCE_HEADER, reference_answer.strip(), ""]
    sections += [TRACE_A_START, trace_a.strip(), TRACE_A_END, ""]
    sections += [TRACE_B_START, trace_b.strip(), TRACE_B_END]
    return Prompt(system=SYSTEM_PROMPT, user="\n".join(sections))


def _between(text: str, start: str, end: str) -> str:
    _before, found, rest = text.partition(start)
    if not found:
        raise ValueError(f"prompt has no {start!r} marker")
    body, found, _tail = rest.rpartition(end)
    if not found:
        raise ValueError(f"prompt has no {end!r} marker")
    return body.strip()


def split_prompt(user: str) -> PromptParts:
    """Read the parts back out of a rendered user message."""
    trace_b = _between(user, TRACE_B_START, TRACE_B_END)
    before_b = user.rpartition(TRACE_B_START)[0]
    trace_a = _between(before_b, TRACE_A_START, TRACE_A_END)
    before_a = before_b.partition(TRACE_A_START)[0]
    reference: str | None = None
    if REFERENCE_HEADER in before_a:
        before_a, _, reference_part = before_a.partition(REFERENCE_HEADER)
        reference = reference_part.strip()
    question = before_a.partition(QUESTION_HEADER)[2].strip()
    return PromptParts(question, reference, trace_a, trace_b)
