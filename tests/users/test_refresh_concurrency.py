"""A refresh token is spent once, even by simultaneous requests in several processes."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.factories import DEFAULT_PASSWORD
from tests.server import live_server

PARALLEL = 20


def test_simultaneous_refreshes_with_one_token_mint_one_pair(tmp_path: Path) -> None:
    with live_server(tmp_path, workers=3, threads=4) as server:
        server.login("twin", DEFAULT_PASSWORD)
        login = server.request(
            "POST", "/api/v1/auth/login/", {"username": "twin", "password": DEFAULT_PASSWORD}
        ).body

        def refresh(_: int) -> int:
            body = {"refresh": login["refresh"]}
            return server.request("POST", "/api/v1/auth/refresh/", body).status

        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            statuses = Counter(pool.map(refresh, range(PARALLEL)))

    assert statuses == {200: 1, 401: PARALLEL - 1}
