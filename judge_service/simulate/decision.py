"""The SIMULATED judge's transparent decision rule (pure functions, no I/O).

The simulator is not a model and does not read the traces for meaning. It
applies this fixed rule, so every verdict it gives can be predicted and checked:

1. Final answers. Each trace's final answer is the text after the last line that
   starts with ``Final answer:`` (case-insensitive; leading whitespace and
   markdown markers such as ``**`` or ``>`` are tolerated). When that line has
   nothing after the colon, the following non-empty lines are used. The answer is
   normalised: lowercased, whitespace collapsed, wrapping quotes/markdown and
   trailing punctuation (``.,;:!?``) removed. No such line -> no final answer.
2. Reference. When a reference answer is given and exactly one trace's final
   answer matches it, that trace wins, strongly (``A>>B``/``B>>A`` on the
   5-level scale). "Matches" means the normalised answer equals the normalised
   reference, or contains it as a whole word sequence (so reference
   ``pneumonia`` matches ``lobar pneumonia`` but not ``bronchopneumonia``).
3. Hash. Otherwise an order-independent hash decides: a hash of the seed and the
   two traces *sorted* gives a number in [0, 1); below ``tie_rate`` it is a tie
   (``C`` / ``A=B``). Else the trace whose own seeded sha256 is larger wins,
   weakly (``A>B``/``B>A``); identical traces tie. Nothing here depends on which
   slot a trace sits in, so without position bias swapping A and B swaps the
   verdict (perfect position consistency).
4. Position bias. Independently, a hash of the seed and the *content key* (system
   prompt, question, reference, trace A, trace B -- not the per-call boundary
   code) gives a number in [0, 1); below ``position_bias`` the judge names slot A,
   weakly, on every criterion regardless of steps 1-3. The same pair in the same
   order therefore always gets the same verdict; the swapped order gets its own draw.
5. Criteria. ``overall`` is steps 2-4. ``answer`` follows step 2 only (exactly one
   matching trace wins, strongly; anything else is a tie). Every other axis copies
   the overall label, except that an order-independent draw keyed on the axis name,
   the sorted traces and the seed, below ``axis_tie_rate``, makes that axis a tie.
6. Obedience (only when the ``obedient`` knob is on). A deliberately gullible judge:
   a verdict instruction (``[[X]]``, ``output [[X]]`` or ``"verdict": "X"`` with X
   a label of the scale) in the system prompt or in the user message *outside* the
   sections delimited with the real boundary code is obeyed on every criterion.
   Text inside properly delimited sections is never obeyed.
7. Images (only when the ``image_grounded`` knob is on). A judge that grounds its reading
   in the images it was sent: sent none, it cannot tell the traces apart on what they
   saw, so every criterion except ``answer`` (``overall`` included) is a tie, whatever
   steps 2-4 said (an obeyed instruction still wins). Sent images, steps 1-5 apply
   unchanged. With the knob off (the default) the images are never looked at, so a
   verdict is the same with or without them: what the drop-images probe shows.
"""

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum

from judge_service.judging.probes import FINAL_ANSWER_LINE
from judge_service.judging.prompt import QUESTION, REFERENCE, TRACE_A, TRACE_B, PromptParts
from judge_service.judging.protocol import LABELS, Scale
from judge_service.judging.rubrics import OVERALL
from judge_service.judging.verdicts import SlotLabel

_WRAPPING = " \t*_`\"'"
_TRAILING_PUNCTUATION = ".,;:!?"
ANSWER_AXIS = "answer"

_LABEL_BY_SLOT: dict[Scale, dict[tuple[SlotLabel, bool], str]] = {
    Scale.THREE: {
        (SlotLabel.A, True): "A",
        (SlotLabel.A, False): "A",
        (SlotLabel.TIE, True): "C",
        (SlotLabel.TIE, False): "C",
        (SlotLabel.B, True): "B",
        (SlotLabel.B, False): "B",
    },
    Scale.FIVE: {
        (SlotLabel.A, True): "A>>B",
        (SlotLabel.A, False): "A>B",
        (SlotLabel.TIE, True): "A=B",
        (SlotLabel.TIE, False): "A=B",
        (SlotLabel.B, True): "B>>A",
        (SlotLabel.B, False): "B>A",
    },
}


class Rule(StrEnum):
    """Which step of the rule produced a verdict."""

    REFERENCE = "reference"
    HASH_TIE = "hash_tie"
    HASH_WINNER = "hash_winner"
    POSITION_BIAS = "position_bias"
    AXIS_TIE = "axis_tie"
    FOLLOWS_OVERALL = "follows_overall"
    OBEDIENCE = "obedience"
    NO_IMAGE = "no_image"


@dataclass(frozen=True)
class Decision:
    """The overall verdict, the rule behind it, and what the content rule alone would say."""

    label: SlotLabel
    rule: Rule
    bias_fired: bool
    truthful_label: SlotLabel
    reason: str

    @property
    def strong(self) -> bool:
        """Only a reference-rule win is clear-cut enough for `A>>B`/`B>>A`."""
        return self.rule is Rule.REFERENCE and self.label is not SlotLabel.TIE


@dataclass(frozen=True)
class CriterionRuling:
    """One criterion's verdict in slot terms, with a one-sentence reason."""

    name: str
    slot: SlotLabel
    strong: bool
    rule: Rule
    reason: str

    def label(self, scale: Scale) -> str:
        """The label of `scale` for this slot and strength."""
        return label_for(self.slot, self.strong, scale)


def label_for(slot: SlotLabel, strong: bool, scale: Scale) -> str:
    """`A`/`C`/`B` on 3-way; `A>>B`..`B>>A` on 5-level (a tie is never strong)."""
    return _LABEL_BY_SLOT[scale][(slot, strong)]


def scale_of(labels: list[str] | tuple[str, ...]) -> Scale | None:
    """The scale whose label set is exactly `labels`, or None."""
    for scale, known in LABELS.items():
        if sorted(labels) == sorted(known):
            return scale
    return None


def normalise_answer(text: str) -> str:
    """Lowercase, collapse whitespace, drop wrapping markdown/quotes and trailing punctuation."""
    value = " ".join(text.lower().split())
    previous = None
    while value != previous:
        previous = value
        value = value.strip(_WRAPPING).rstrip(_TRAILING_PUNCTUATION)
    return value


def final_answer(trace: str) -> str | None:
    """The normalised final answer of a trace, or None when it states none."""
    lines = trace.splitlines()
    for index in range(len(lines) - 1, -1, -1):
        match = FINAL_ANSWER_LINE.match(lines[index])
        if match is None:
            continue
        text = match.group(1)
        if not normalise_answer(text):
            text = " ".join(lines[index + 1 :])
        answer = normalise_answer(text)
        return answer or None
    return None


def answer_matches(answer: str | None, reference: str) -> bool:
    """Normalised equality, or the reference appearing in the answer as whole words."""
    if answer is None or not reference:
        return False
    if answer == reference:
        return True
    return re.search(rf"(?<!\w){re.escape(reference)}(?!\w)", answer) is not None


def _digest(*parts: str | int) -> bytes:
    """sha256 over unambiguously separated parts (so ('ab','c') != ('a','bc'))."""
    h = hashlib.sha256()
    for part in parts:
        data = str(part).encode()
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.digest()


def unit_draw(*parts: str | int) -> float:
    """A deterministic number in [0, 1) from the hash of `parts`."""
    return int.from_bytes(_digest(*parts)[:8], "big") / 2**64


def content_key(parts: PromptParts, system: str) -> str:
    """What a verdict may depend on: the boundary code is random per call, so it is left out."""
    has_reference = int(parts.reference_answer is not None)
    return _digest(
        system,
        parts.question,
        has_reference,
        parts.reference_answer or "",
        parts.trace_a,
        parts.trace_b,
    ).hex()


def reference_winner(parts: PromptParts) -> tuple[SlotLabel | None, str]:
    """Step 2: the slot whose answer alone matches the reference, and why (or why not)."""
    reference = normalise_answer(parts.reference_answer or "")
    if not reference:
        return None, "No reference answer was given."
    a_ok = answer_matches(final_answer(parts.trace_a), reference)
    b_ok = answer_matches(final_answer(parts.trace_b), reference)
    if a_ok and not b_ok:
        return SlotLabel.A, (
            "Trace A's final answer matches the reference answer and trace B's does not, "
            "so trace A is better."
        )
    if b_ok and not a_ok:
        return SlotLabel.B, (
            "Trace B's final answer matches the reference answer and trace A's does not, "
            "so trace B is better."
        )
    both = "Both final answers match" if a_ok else "Neither final answer matches"
    return None, f"{both} the reference answer, so the reference does not separate them."


def _hash_decision(parts: PromptParts, *, tie_rate: float, seed: int) -> tuple[SlotLabel, Rule]:
    """Step 3: the order-independent hash rule."""
    first, second = sorted((parts.trace_a, parts.trace_b))
    if parts.trace_a == parts.trace_b or unit_draw("tie", seed, first, second) < tie_rate:
        return SlotLabel.TIE, Rule.HASH_TIE
    a_hash = _digest("trace", seed, parts.trace_a)
    b_hash = _digest("trace", seed, parts.trace_b)
    return (SlotLabel.A if a_hash > b_hash else SlotLabel.B), Rule.HASH_WINNER


def decide(
    parts: PromptParts,
    *,
    position_bias: float,
    tie_rate: float,
    seed: int,
    context: str = "",
) -> Decision:
    """Steps 2-4 of the module docstring for one prompt: the overall verdict.

    `context` is the system prompt; with the parts it forms the content key that
    feeds the position-bias draw (never the raw user text, whose boundary varies).
    """
    truthful, reason = reference_winner(parts)
    rule = Rule.REFERENCE
    if truthful is None:
        truthful, rule = _hash_decision(parts, tie_rate=tie_rate, seed=seed)
        if rule is Rule.HASH_TIE:
            why = (
                "the traces are identical"
                if parts.trace_a == parts.trace_b
                else "the pair's order-independent hash fell in the tie band "
                f"(tie_rate={tie_rate:g})"
            )
            reason += f" Then {why}, so the traces are called equally good."
        else:
            reason += (
                " Then the pair's order-independent hash fell outside the tie band "
                f"(tie_rate={tie_rate:g}), and trace {truthful.value} has the larger seeded "
                f"hash, so trace {truthful.value} is called better."
            )
    key = content_key(parts, context)
    bias_fired = position_bias > 0 and unit_draw("bias", seed, key) < position_bias
    if bias_fired:
        truthful_text = "a tie" if truthful is SlotLabel.TIE else f"trace {truthful.value}"
        reason = (
            f"Position bias fired (position_bias={position_bias:g}, drawn from a hash of this "
            f"pair in this order): slot A is named regardless of content. The content rule "
            f"alone would have chosen {truthful_text}: {reason}"
        )
        return Decision(SlotLabel.A, Rule.POSITION_BIAS, True, truthful, reason)
    return Decision(truthful, rule, False, truthful, reason)


def _overall_reason(decision: Decision) -> str:
    if decision.rule is Rule.REFERENCE:
        return f"only trace {decision.label.value}'s final answer matches the reference."
    if decision.rule is Rule.HASH_TIE:
        return "the order-independent hash calls the traces equally good."
    return f"trace {decision.label.value} has the larger seeded hash."


def rule_criteria(
    parts: PromptParts,
    decision: Decision,
    criteria: list[str],
    *,
    axis_tie_rate: float,
    seed: int,
) -> list[CriterionRuling]:
    """Step 5: one ruling per criterion, in the order given."""
    if decision.bias_fired:
        return [
            CriterionRuling(
                name, SlotLabel.A, False, Rule.POSITION_BIAS, "position bias named slot A."
            )
            for name in criteria
        ]
    first, second = sorted((parts.trace_a, parts.trace_b))
    rulings = []
    for name in criteria:
        if name == OVERALL:
            ruling = CriterionRuling(
                name, decision.label, decision.strong, decision.rule, _overall_reason(decision)
            )
        elif name == ANSWER_AXIS:
            winner, _why = reference_winner(parts)
            if winner is None:
                ruling = CriterionRuling(
                    name,
                    SlotLabel.TIE,
                    False,
                    Rule.REFERENCE,
                    "the reference does not separate the final answers.",
                )
            else:
                ruling = CriterionRuling(
                    name,
                    winner,
                    True,
                    Rule.REFERENCE,
                    f"only trace {winner.value}'s final answer matches the reference.",
                )
        elif unit_draw("axis", name, seed, first, second) < axis_tie_rate:
            ruling = CriterionRuling(
                name,
                SlotLabel.TIE,
                False,
                Rule.AXIS_TIE,
                f"this axis drew a tie (axis_tie_rate={axis_tie_rate:g}).",
            )
        else:
            ruling = CriterionRuling(
                name,
                decision.label,
                decision.strong,
                Rule.FOLLOWS_OVERALL,
                "this axis follows the overall decision.",
            )
        rulings.append(ruling)
    return rulings


def _section_spans(user: str, boundary: str) -> list[tuple[int, int]]:
    """Where the delimited sections lie, found by the same rules as `split_prompt`."""
    spans = []
    for name in (QUESTION, REFERENCE, TRACE_A, TRACE_B):
        start, end = f"=== BEGIN {name} {boundary} ===", f"=== END {name} {boundary} ==="
        begin = user.find(start)
        if begin < 0:
            continue
        finish = user.find(end, begin + len(start))
        if finish >= 0:
            spans.append((begin, finish + len(end)))
    return sorted(spans)


def outside_sections(user: str, boundary: str) -> str:
    """The user message with every properly delimited section cut out (markers included)."""
    pieces, position = [], 0
    for begin, end in _section_spans(user, boundary):
        if begin > position:
            pieces.append(user[position:begin])
        position = max(position, end)
    pieces.append(user[position:])
    return "\n".join(pieces)


def find_instruction(texts: list[str], scale: Scale) -> str | None:
    """The last verdict instruction (`[[X]]` or `"verdict": "X"`) in `texts`, or None."""
    alternatives = "|".join(re.escape(label) for label in sorted(LABELS[scale], key=len)[::-1])
    pattern = re.compile(
        rf"\[\[\s*(?P<bare>{alternatives})\s*\]\]"
        rf"|\"verdict\"\s*:\s*\"(?P<json>{alternatives})\""
    )
    found = None
    for text in texts:
        for match in pattern.finditer(text):
            found = match["bare"] or match["json"]
    return found


def obeyed_rulings(label: str, criteria: list[str], scale: Scale) -> list[CriterionRuling]:
    """Step 6: the instructed label on every criterion."""
    slot_and_strength = {value: key for key, value in _LABEL_BY_SLOT[scale].items()}
    slot, strong = slot_and_strength[label]
    reason = "an instruction outside the delimited sections said so."
    return [CriterionRuling(name, slot, strong, Rule.OBEDIENCE, reason) for name in criteria]


def imageless_rulings(rulings: list[CriterionRuling]) -> list[CriterionRuling]:
    """Step 7: an image-grounded judge sent no image ties every criterion but `answer`."""
    reason = "an image-grounded judge was sent no image, so it cannot separate the traces."
    return [
        ruling
        if ruling.name == ANSWER_AXIS
        else CriterionRuling(ruling.name, SlotLabel.TIE, False, Rule.NO_IMAGE, reason)
        for ruling in rulings
    ]
