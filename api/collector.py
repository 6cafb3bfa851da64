"""Python's garbage collector in a serving process.

The cyclic collector runs a young collection each time allocations outrun
deallocations by 700 objects, and, every hundred or so of those, a full one
that walks every object the process holds: Django, DRF, the SDK and the
app, loaded once and kept for the life of the process. A worker relaying
hundreds of streams makes and drops objects for every piece of every one,
so it collected constantly: at 3,000 held streams, 15% of the workers' CPU
went to the collector, most of it to full collections of about 0.2 s each
(docs/performance.md, "The garbage collector").

Once a worker is ready to serve, what it has loaded is frozen (`gc.freeze`:
no collection walks it again; it lives as long as the process anyway), and
the young generation is made larger, so collections come less often and
each walks only what the requests made.
"""

import gc

# Net allocations before a young collection (Python's default: 700). At this
# size each takes about 10 ms of a worker holding 600 streams.
YOUNG = 10_000
# Python's own ratios: young collections to a middle one, middle to a full one.
# A streamed chat outlives a few young collections, so its garbage (DRF's
# request and view refer to each other) is freed only by the older ones,
# which must still come often.
MIDDLE = 10
OLD = 10


def collector_for_serving() -> None:
    """Freeze what is loaded and widen the young generation (at lifespan startup)."""
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, OLD)
