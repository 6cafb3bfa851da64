import pytest
from django.core.exceptions import ImproperlyConfigured

from conversations.providers import get_provider


@pytest.fixture(autouse=True)
def _fresh_provider():
    get_provider.cache_clear()
    yield
    get_provider.cache_clear()


def test_the_default_provider_echoes_deterministically():
    assert get_provider().reply(message="Hi there") == "AI response to: Hi there"


def test_an_unknown_provider_is_a_configuration_error(settings):
    settings.AI_PROVIDER = "nonsense"

    with pytest.raises(ImproperlyConfigured, match="AI_PROVIDER='nonsense' is unknown"):
        get_provider()
