import gc

from api import collector
from api.collector import collector_for_serving


def test_serving_freezes_what_is_loaded_and_widens_the_young_generation(collector_at_defaults):
    loaded = ["an object the process keeps"]
    assert any(tracked is loaded for tracked in gc.get_objects())

    collector_for_serving()

    # Frozen: no collection walks it again.
    assert not any(tracked is loaded for tracked in gc.get_objects())
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (collector.YOUNG, collector.MIDDLE, collector.OLD)
