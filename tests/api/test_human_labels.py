"""Human labels on pairs: several annotators per pair, one label each."""

import httpx

from judge_service.demo.sample import sample_pairs
from tests.conftest import create_run


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
