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

        def refresh(_: int) -> tuple[int, str | None]:
            result = server.request("POST", "/api/v1/auth/refresh/", {"refresh": login["refresh"]})
            return result.status, result.body.get("refresh")

        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            results = list(pool.map(refresh, range(PARALLEL)))
        statuses = Counter(status for status, _ in results)
        [minted] = [token for status, token in results if status == 200]
        # The losers presented a spent token: as for a thief, the session ends,
        # so the winner's new token is dead too.
        after = server.request("POST", "/api/v1/auth/refresh/", {"refresh": minted})

    assert statuses == {200: 1, 401: PARALLEL - 1}
    assert after.status == 401
