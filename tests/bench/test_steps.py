import pytest

from bench.processes import BALANCE, SHARED_BENCH
from bench.steps import STEPS, load_bare, measure, measure_bare
from bench.wrk import bare_setup
from conversations.models import Exchange
from tests.assertions import assert_ledger_matches_balance
from tests.factories import UserFactory
from users.tokens import SessionAccessToken


@pytest.mark.django_db
def test_each_step_is_timed_on_chats_that_are_really_paid_for(user, settings):
    before = user.tokens
    token = str(SessionAccessToken.for_user(user))

    figures = measure(user=user, access_token=token, chats=3)

    assert tuple(figures) == STEPS
    assert all(milliseconds > 0 for milliseconds in figures.values())
    user.refresh_from_db()
    assert user.tokens == before - 3 * settings.CHAT_MESSAGE_COST
    assert Exchange.objects.filter(user=user, status=Exchange.Status.COMPLETE).count() == 3
    assert_ledger_matches_balance(user)


@pytest.mark.django_db
def test_a_token_of_someone_else_stops_the_measurement(user):
    someone_else = UserFactory.create()
    token = str(SessionAccessToken.for_user(someone_else))

    with pytest.raises(RuntimeError, match="did not authenticate its user"):
        measure(user=user, access_token=token, chats=1)


@pytest.fixture
def bare_app(tmp_path, monkeypatch):
    """The bare reference app on a SQLite database of its own, and a token of its first user."""
    if not (SHARED_BENCH / "limit_app.py").exists():
        pytest.skip(f"no reference app at {SHARED_BENCH}")
    env, tokens = bare_setup("sqlite", tmp_path)
    for key, value in env.items():
        if key.startswith("LIMIT_"):
            # load_bare sets them in os.environ; monkeypatch takes them out after.
            monkeypatch.setenv(key, value)
    return load_bare(env), tokens.read_text().split()[0]


def test_the_bare_apps_steps_are_timed_on_chats_it_really_stores(bare_app):
    limit_app, token = bare_app

    figures = measure_bare(limit_app, access_token=token, chats=3)

    assert tuple(figures) == STEPS
    assert all(milliseconds > 0 for milliseconds in figures.values())
    assert limit_app.db().run("SELECT count(*) FROM chats").fetchone() == (3,)
    assert limit_app.db().run("SELECT tokens FROM users WHERE id = 1").fetchone() == (
        BALANCE - 3 * limit_app.COST,
    )


def test_a_token_the_bare_app_refuses_stops_the_measurement(bare_app):
    limit_app, _ = bare_app

    with pytest.raises(RuntimeError, match="did not authenticate its user"):
        measure_bare(limit_app, access_token="not-a-token", chats=1)
