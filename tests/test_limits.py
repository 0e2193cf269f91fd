"""The open-files limit and how many nodes it leaves room for."""
from __future__ import annotations

import resource

from hub.limits import RESERVED_FILES, near_capacity, node_capacity, raise_open_files_limit


def test_each_node_needs_two_files_beyond_the_hubs_own() -> None:
    assert node_capacity(RESERVED_FILES + 2_000) == 1_000
    assert node_capacity(10) == 0


def test_near_capacity_warns_from_nine_tenths_and_never_without_a_limit() -> None:
    assert not near_capacity(899, 1_000)
    assert near_capacity(900, 1_000)
    assert not near_capacity(10**6, None)


def test_the_soft_limit_is_raised_to_the_hard_one() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 256), hard))
    try:
        capacity = raise_open_files_limit()
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard
        assert capacity == (None if hard == resource.RLIM_INFINITY else node_capacity(hard))
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
