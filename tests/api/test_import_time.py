"""The API process loads neither provider SDK: importing them takes seconds (most of the
app's start-up before), and only workers call a judge. Jobs are enqueued by the job
function's dotted name, so nothing on the API's import path imports the job's modules."""

import subprocess
import sys

from rq.utils import import_attribute

from judge_service.jobs import dispatch

PROBE = """
import sys
import judge_service.app
loaded = [m for m in ("openai", "anthropic", "judge_service.jobs.judge_pairs") if m in sys.modules]
print(",".join(loaded))
"""


def test_importing_the_app_loads_no_provider_sdk() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "", f"the app's import loaded: {done.stdout.strip()}"


def test_the_job_name_is_the_worker_entry_point() -> None:
    from judge_service.jobs.judge_pairs import judge_pairs

    assert import_attribute(dispatch.JOB_FUNCTION) is judge_pairs
