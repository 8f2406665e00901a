"""Growing delays: zero below the threshold, doubling above it, capped."""

from overleg.security.authn.throttle import delay_after


def test_delays_grow_and_are_capped() -> None:
    assert [delay_after(n, 5, 900) for n in range(4, 10)] == [0, 1, 2, 4, 8, 16]
    assert delay_after(10_000, 5, 900) == 900
