"""Human labels on pairs: several annotators per pair, one label each."""

import uuid
from collections.abc import Iterator

import httpx
import pytest

from judge_service.app import create_app
from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.demo.sample import sample_pairs
from tests.api.plans import B, C, apply_plan
from tests.api.test_auth import client, new_key
from tests.conftest import create_run
from tests.test_cli import cli


def first_pair_id(client: httpx.Client, run_id: int) -> int:
    return client.get(f"/v1/runs/{run_id}/pairs").json()["items"][0]["pair_id"]


def test_annotators_label_and_relabel(pg_api: httpx.Client) -> None:
    run = create_run(pg_api, ["sim"])
    pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(2)})
    pair_id = first_pair_id(pg_api, run["id"])
    url = f"/v1/pairs/{pair_id}/human-labels"

    first = pg_api.post(url, json={"label": "candidate", "annotator": "dr-a"})
    assert first.status_code == 201
    assert first.json()["run_id"] == run["id"] and first.json()["label"] == "candidate"
    assert pg_api.post(url, json={"label": "tie", "annotator": "dr-b"}).status_code == 201
    relabel = pg_api.post(url, json={"label": "baseline", "annotator": "dr-a"})
    assert relabel.status_code == 200

    labels = pg_api.get(url).json()
    assert [(x["annotator"], x["label"]) for x in labels] == [("dr-a", "baseline"), ("dr-b", "tie")]


def test_bad_labels_are_refused(pg_api: httpx.Client) -> None:
    run = create_run(pg_api, ["sim"])
    pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(1)})
    url = f"/v1/pairs/{first_pair_id(pg_api, run['id'])}/human-labels"
    bad = pg_api.post(url, json={"label": "A", "annotator": "x"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "label"]
    missing = pg_api.post(url, json={"label": "tie"})
    assert missing.json()["detail"][0]["loc"] == ["body", "annotator"]
    nul = pg_api.post(url, json={"label": "tie", "annotator": "a\x00b"})
    assert nul.status_code == 422
    unknown = pg_api.post(
        "/v1/pairs/987654321/human-labels", json={"label": "tie", "annotator": "x"}
    )
    assert unknown.status_code == 404 and "987654321" in unknown.json()["detail"]


@pytest.fixture(scope="module")
def keyed(pg_settings: Settings) -> Iterator[str]:
    with BackgroundServer(create_app(pg_settings.model_copy(update={"auth": "required"}))) as api:
        yield api.url


def annotator_key(database_url: str, project: str, annotator: str) -> str:
    made = cli(
        "keys", "create", "--project", project, "--annotator", annotator,
        env={"JUDGE_DATABASE_URL": database_url},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


def test_a_key_labels_as_its_own_annotator_only(keyed: str, pg_url: str) -> None:
    project = f"labels-{uuid.uuid4().hex[:6]}"
    alice_key = annotator_key(pg_url, project, "alice")
    bob_key = annotator_key(pg_url, project, "bob")
    plain_key = new_key(pg_url, project)
    plain = f"key:{plain_key[:12]}"
    with (
        client(keyed, alice_key) as alice,
        client(keyed, bob_key) as bob,
        client(keyed, plain_key) as anyone,
    ):
        run = create_run(alice, ["sim"])
        alice.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(2)})
        url = f"/v1/pairs/{first_pair_id(alice, run['id'])}/human-labels"

        assert bob.post(url, json={"label": "candidate"}).json()["annotator"] == "bob"
        # Naming someone else is refused, naming nobody labels as the key's annotator.
        for forger, name in ((alice, "bob"), (anyone, "bob"), (anyone, "alice")):
            forged = forger.post(url, json={"label": "baseline", "annotator": name})
            assert forged.status_code == 403 and "annotator" in forged.json()["detail"]
        first = alice.post(url, json={"label": "tie"})
        assert (first.status_code, first.json()["annotator"]) == (201, "alice")
        again = alice.post(url, json={"label": "baseline", "annotator": "alice"})
        assert (again.status_code, again.json()["annotator"]) == (200, "alice")
        unnamed = anyone.post(url, json={"label": "tie"})
        assert (unnamed.status_code, unnamed.json()["annotator"]) == (201, plain)
        labels = bob.get(url).json()
    assert [(x["annotator"], x["label"]) for x in labels] == [
        ("bob", "candidate"),
        ("alice", "baseline"),
        (plain, "tie"),
    ]


def test_the_dashboard_labels_as_the_signed_in_key(keyed: str, pg_url: str) -> None:
    key = annotator_key(pg_url, f"labels-{uuid.uuid4().hex[:6]}", "carol")
    with client(keyed, key) as api:
        run = create_run(api, ["sim"])
        api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(3)})
        # Judged: the label queue samples a finished run only.
        ties = {"sim": {B: "tie", C: "tie"}}
        apply_plan(pg_url, run["id"], {pair["external_id"]: ties for pair in sample_pairs(3)})
        pair_ids = [
            item["pair_id"] for item in api.get(f"/v1/runs/{run['id']}/pairs").json()["items"]
        ]
        page = api.get(f"/pairs/{pair_ids[0]}")
        assert page.status_code == 200 and 'value="carol" data-fixed readonly' in page.text
        for pair_id in pair_ids:
            label = {"label": "tie", "annotator": "carol"}  # what the page's script sends
            assert api.post(f"/v1/pairs/{pair_id}/human-labels", json=label).status_code == 201
        # The label-queue link names whoever the browser remembered: the key decides.
        done = api.get(f"/runs/{run['id']}/label", params={"annotator": "mallory"})
    assert done.status_code == 303
    assert done.headers["location"] == f"/runs/{run['id']}/pairs?human=labelled"
