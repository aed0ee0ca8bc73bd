"""The judgment cache's key: a hash of everything that decides a verdict, and the project.

Two judgments with the same key would be asked the very same question of the very same
judge (its name and configuration snapshot, rubric version, template, texts in slot order,
order, scale, output mode), so the second may take the first's verdict without a call.
The boundary code is left out: it is drawn per call and changes nothing the judge rules
on. The project is in the key, so a key can never match another project's judgment.
"""

import hashlib
import json

from judge_service.db.models import Pair, Run
from judge_service.judging.prompt import Prompt
from judge_service.judging.verdicts import Order


def cache_key(
    run: Run,
    judge: str,
    pair: Pair,
    order: Order,
    prompt: Prompt,
    images: tuple[str, ...],
    first: str,
    second: str,
) -> str | None:
    """SHA-256 of the canonical JSON of what the judge is asked, in the slot order sent.

    None when the run holds no snapshot of the judge's configuration: nothing says what
    judged, so nothing is shared.
    """
    fingerprint = run.judge_configs.get(judge)
    if fingerprint is None:
        return None
    parts = {
        "project": run.project_id,
        "judge": [judge, fingerprint],
        "rubric": [run.rubric_name, run.rubric_version],
        "template": prompt.template_sha256,
        "question": pair.question,
        "reference": pair.reference_answer,
        "images": list(images),
        "traces": [first, second],
        "order": order.value,
        "scale": run.scale,
    }
    payload = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()
