"""A tab's cache on its own: what faithful TanStack-style handling does, and what the
``versioned_cache`` fix changes."""

from __future__ import annotations

from gatewaysim.models.broadcast.cache import OrdersCache


def loaded(orders: dict[str, int], as_of: int) -> OrdersCache:
    cache = OrdersCache()
    cache.fetch_sent("r0")
    assert cache.response("r0", orders, as_of, versioned=False) == "applied"
    return cache


def test_responses_apply_in_arrival_order_unless_versioned() -> None:
    for versioned, expected in ((False, {"o1": 1}), (True, {"o1": 2})):
        cache = loaded({}, 0)
        cache.fetch_sent("old")
        cache.fetch_sent("new")
        cache.response("new", {"o1": 2}, 3, versioned=versioned)
        outcome = cache.response("old", {"o1": 1}, 2, versioned=versioned)
        assert outcome == ("stale" if versioned else "applied")
        assert cache.shown() == expected


def test_a_mutation_cancels_fetches_in_flight_and_a_response_replaces_optimistic_data() -> None:
    cache = loaded({"o1": 1}, 1)
    cache.fetch_sent("r1")
    cache.begin_mutation("m1", "o2", 1)
    assert cache.shown() == {"o1": 1, "o2": 1}
    assert cache.response("r1", {"o1": 1}, 1, versioned=False) == "cancelled"
    cache.fetch_sent("r2")
    cache.response("r2", {"o1": 1}, 1, versioned=False)  # read before o2 committed
    assert cache.shown() == {"o1": 1}


def test_faithful_rollback_restores_a_stale_snapshot() -> None:
    cache = loaded({}, 0)
    cache.begin_mutation("m1", "o1", 1)
    cache.begin_mutation("m2", "o2", 1)  # its snapshot holds m1's entry
    cache.rollback("m1", versioned=False)
    assert cache.shown() == {}
    cache.rollback("m2", versioned=False)
    assert cache.shown() == {"o1": 1}  # m1, already rejected, is back


def test_versioned_rollback_removes_its_write_and_edits_of_an_order_it_failed_to_create() -> None:
    cache = loaded({"o9": 4}, 5)
    cache.begin_mutation("m1", "o1", 1)  # create
    cache.begin_mutation("m2", "o1", 2)  # an edit of that optimistic order
    cache.begin_mutation("m3", "o9", 5)  # an edit of another order
    cache.rollback("m1", versioned=True)
    assert cache.shown() == {"o9": 5}
    cache.rollback("m3", versioned=True)
    assert cache.shown() == {"o9": 4} and cache.as_of == 5
