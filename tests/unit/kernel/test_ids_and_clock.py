from datetime import datetime

import pytest

from overleg.kernel import clock
from overleg.kernel.ids import new_id


def test_ids_are_uuid7_and_sort_by_creation() -> None:
    ids = [new_id() for _ in range(200)]
    assert all(i.version == 7 and i.variant == "specified in RFC 4122" for i in ids)
    assert len(set(ids)) == 200
    stamps = [i.int >> 80 for i in ids]
    assert stamps == sorted(stamps)


def test_clock_is_aware_utc_and_refuses_naive_freeze() -> None:
    assert clock.now().utcoffset() is not None
    with pytest.raises(ValueError, match="aware"):
        clock.freeze(datetime(2026, 1, 1))
