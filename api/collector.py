"""Python's garbage collector in a serving process.

The cyclic collector runs a young collection each time allocations outrun
deallocations by 700 objects, and now and then a full one that walks every
object the process holds: Django, DRF, the SDK and the app, loaded once and
kept for the life of the process. A worker relaying thousands of streams
makes and drops objects for every piece of every one, so it collected
constantly: at 3,000 held streams, 15% of the workers' CPU went to the
collector, most of it to full collections of about 0.2 s each
(docs/performance.md, "The garbage collector").

As a worker starts serving, what it has loaded is frozen (`gc.freeze`: kept
out of every collection; it is not garbage), and the young generation is
made larger, so collections come less often and each walks only what the
requests made.
"""

import gc

# Net allocations before a young collection (Python's default: 700). At this
# size each takes 10 to 15 ms of a worker holding 600 streams, and the
# collector's share of the CPU fell to 5%.
YOUNG = 10_000
# Young collections before a middle one, and middle ones before a full one
# (Python's: 10 and 10). A full collection also waits, as always, until the
# objects that outlived the young generations are a quarter of the rest.
MIDDLE = 20
OLD = 100


def collector_for_serving() -> None:
    """Freeze what is loaded and widen the young generation (at lifespan startup)."""
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, OLD)
