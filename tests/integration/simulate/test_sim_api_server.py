"""The civil affairs API answers the contract to a real HTTP client on loopback."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import requests

from community_dw.simulate.api_server import running_api
from community_dw.simulate.city import CityResult, generate_city
from community_dw.simulate.config import SimConfig
from community_dw.simulate.truth import read_truth

TOKEN = "sim-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def api_city(tmp_path_factory: pytest.TempPathFactory) -> CityResult:
    return generate_city(tmp_path_factory.mktemp("api_city"), SimConfig(residents=3000, seed=5, days=3))


def _get(api, path, **params):
    return requests.get(api.url + path, headers=AUTH, params=params, timeout=10)


def test_wrong_or_missing_token_gets_401(api_city) -> None:
    with running_api(api_city.out_dir, TOKEN) as api:
        assert requests.get(api.url + "/api/v1/facilities", timeout=5).status_code == 401
        bad = requests.get(api.url + "/api/v1/facilities", headers={"Authorization": "Bearer nope"}, timeout=5)
        assert bad.status_code == 401
        assert _get(api, "/api/v1/facilities").status_code == 200
        assert _get(api, "/api/v1/nothing").status_code == 404


def test_paging_envelope_walks_every_record_once_when_nothing_changes(api_city) -> None:
    facilities = read_truth(api_city.out_dir, "facilities")
    recipients = read_truth(api_city.out_dir, "civil_affairs_recipients")
    with running_api(api_city.out_dir, TOKEN) as api:
        for path, key, truth in (("/api/v1/facilities", "facility_id", facilities),
                                 ("/api/v1/service-recipients", "recipient_id", recipients)):
            seen, page = [], 1
            while page:
                body = _get(api, path, page=page, page_size=7).json()
                assert set(body) == {"data", "page", "page_size", "total", "next_page"}
                assert body["page"] == page and body["page_size"] == 7 and body["total"] == len(truth)
                seen += [r[key] for r in body["data"]]
                page = body["next_page"]
            assert sorted(seen) == sorted(truth[key])
        record = _get(api, "/api/v1/facilities", page_size=1).json()["data"][0]
        assert set(record) == {"facility_id", "name", "category", "address", "longitude", "latitude", "capacity",
                               "status", "community", "subdistrict", "updated_at"}
        assert record["facility_id"].startswith("MZ-442000-")
        person = _get(api, "/api/v1/service-recipients", page_size=1).json()["data"][0]
        assert set(person) == {"recipient_id", "name", "id_number", "category", "community", "valid_from", "valid_to",
                               "updated_at"}
        assert _get(api, "/api/v1/facilities", page=0).status_code == 400


def test_updated_since_filters_inclusively(api_city) -> None:
    with running_api(api_city.out_dir, TOKEN) as api:
        everything = _get(api, "/api/v1/service-recipients", page_size=1000).json()
        stamps = sorted(r["updated_at"] for r in everything["data"])
        cut = stamps[len(stamps) // 2]
        body = _get(api, "/api/v1/service-recipients", page_size=1000, updated_since=cut).json()
        assert body["total"] == sum(s >= cut for s in stamps)
        assert all(datetime.fromisoformat(r["updated_at"]) >= datetime.fromisoformat(cut) for r in body["data"])


def test_throttle_gives_429_with_retry_after(api_city) -> None:
    with running_api(api_city.out_dir, TOKEN, throttle_rate=1.0, retry_after=3) as api:
        answer = _get(api, "/api/v1/facilities")
        assert answer.status_code == 429
        assert answer.headers["Retry-After"] == "3"


def test_error_rate_gives_503(api_city) -> None:
    with running_api(api_city.out_dir, TOKEN, error_rate=1.0) as api:
        assert _get(api, "/api/v1/facilities").status_code == 503


def test_stalled_connection_times_out_the_client(api_city) -> None:
    with running_api(api_city.out_dir, TOKEN, stall_rate=1.0, stall_seconds=5) as api, pytest.raises(
            (requests.exceptions.Timeout, requests.exceptions.ConnectionError)):
        requests.get(api.url + "/api/v1/facilities", headers=AUTH, timeout=0.5)


def test_records_change_between_pages_so_a_pull_can_see_one_twice(api_city) -> None:
    with running_api(api_city.out_dir, TOKEN, change_rate=1.0, seed=4) as api:
        seen, page = [], 1
        while page:
            body = _get(api, "/api/v1/service-recipients", page=page, page_size=50).json()
            seen += [r["recipient_id"] for r in body["data"]]
            page = body["next_page"]
        assert len(seen) > len(set(seen))


def test_as_of_serves_an_earlier_state(api_city) -> None:
    meta = json.loads((api_city.out_dir / "_api" / "civil_affairs" / "meta.json").read_text(encoding="utf-8"))
    with running_api(api_city.out_dir, TOKEN, as_of="2026-11-01T23:59:59+08:00") as early:
        before = _get(early, "/api/v1/facilities", page_size=1000).json()
    with running_api(api_city.out_dir, TOKEN) as late:
        after = _get(late, "/api/v1/facilities", page_size=1000).json()
        assert late.state.as_of.isoformat().startswith(meta["as_of"][:19])
    assert before["total"] == after["total"]
    assert max(r["updated_at"] for r in before["data"]) <= "2026-11-01T23:59:59+08:00"
    assert max(r["updated_at"] for r in after["data"]) > "2026-11-02"
