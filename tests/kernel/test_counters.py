"""Cached counters: a dashboard figure may be a few seconds stale, never another person's."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from hitl_crm.counters import cached_count, forget


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


def test_a_counter_is_counted_once_within_its_window(settings):
    # given
    settings.HITL_CRM_COUNTER_SECONDS = 30
    calls = []

    def count():
        calls.append(1)
        return len(calls)

    # when
    first = cached_count("open_cases", count)
    second = cached_count("open_cases", count)

    # then: the second read is the cached figure, the table was not counted again
    assert (first, second) == (1, 1)
    assert len(calls) == 1


def test_each_user_has_their_own_figure(settings):
    settings.HITL_CRM_COUNTER_SECONDS = 30

    mine = cached_count("waiting", lambda: 3, user_id=1)
    theirs = cached_count("waiting", lambda: 7, user_id=2)

    assert (mine, theirs) == (3, 7)
    assert cached_count("waiting", lambda: 99, user_id=1) == 3


def test_forget_makes_the_next_read_count_again(settings):
    settings.HITL_CRM_COUNTER_SECONDS = 30
    cached_count("waiting", lambda: 3, user_id=1)

    forget("waiting", user_id=1)

    assert cached_count("waiting", lambda: 2, user_id=1) == 2


def test_zero_seconds_counts_every_time(settings):
    settings.HITL_CRM_COUNTER_SECONDS = 0
    cached_count("open_cases", lambda: 1)

    assert cached_count("open_cases", lambda: 2) == 2


def test_a_zero_count_is_cached_too(settings):
    # given: an empty table counts 0, which must not read as "not cached"
    settings.HITL_CRM_COUNTER_SECONDS = 30
    cached_count("open_cases", lambda: 0)

    assert cached_count("open_cases", lambda: 5) == 0
