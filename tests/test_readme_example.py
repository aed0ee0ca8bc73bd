"""The README's API walkthrough runs as written against `make demo`.

A newcomer's first curl once named a judge the demo does not have (422), and its traces
put "Final answer:" mid-line, so the simulated judge found no final answer in either.
Here the README's shell block runs in bash against a demo serving on a free port, every
call must answer 2xx, and each example trace must state a final answer the simulated
judge reads, the candidate's matching the reference and the baseline's not.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest

from judge_service.simulate.decision import answer_matches, final_answer
from tests.conftest import REPO, cli_env, serving_demo

pytestmark = pytest.mark.slow
README = REPO / "README.md"
# curl exits non-zero on an HTTP error (with the body on stdout), so `set -e` stops there.
STRICT = 'set -euo pipefail\ncurl() { command curl --fail-with-body "$@"; }\n'


def api_block() -> str:
    """The first sh block of the README's "Using the API" section."""
    section = README.read_text().split("## Using the API", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "no sh block under Using the API"
    return block[1]


def example_pairs(block: str) -> list[dict[str, str]]:
    """The pairs the block posts, as the server parses their JSON."""
    body = re.search(r"/pairs\"? .*?-d '(.*?)'", block, re.DOTALL)
    assert body, "no pair post in the block"
    pairs: list[dict[str, str]] = json.loads(body[1])["pairs"]
    return pairs


def test_the_example_traces_state_final_answers_the_simulated_judge_reads() -> None:
    pairs = example_pairs(api_block())
    assert pairs
    for pair in pairs:
        candidate = final_answer(pair["candidate_trace"])
        baseline = final_answer(pair["baseline_trace"])
        assert candidate is not None and baseline is not None, pair
        assert answer_matches(candidate, pair["reference_answer"]), pair
        assert not answer_matches(baseline, pair["reference_answer"]), pair


def test_the_api_walkthrough_runs_against_the_demo(tmp_path: Path) -> None:
    with serving_demo(tmp_path, 12) as demo:
        script = STRICT + api_block().replace("localhost:8000", demo.base_url.split("//")[1])
        walkthrough = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        demo.stop()
    assert walkthrough.returncode == 0, walkthrough.stdout + walkthrough.stderr
    # curl adds no newline: the judges' list is the first JSON value of the output.
    listed, _ = json.JSONDecoder().raw_decode(walkthrough.stdout)
    judges = [judge["name"] for judge in listed]
    assert {"sim-openai", "sim-anthropic"} <= set(judges)
    header = (tmp_path / "judgments.csv").read_text().splitlines()[0]
    assert "judge" in header.split(",")
