"""Pattern matching and ordering, case by case against Asterisk's pbx.c rules."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialplan.patterns import (
    EARLY_MATCH,
    MATCHED,
    NO_MATCH,
    ExtensionPattern,
    MatchMode,
    ext_cmp_key,
    extension_match,
)

M, C, MM = MatchMode.MATCH, MatchMode.CANMATCH, MatchMode.MATCHMORE


def ordered(*names: str) -> list[str]:
    return sorted(names, key=ext_cmp_key)


# --- ordering -------------------------------------------------------------------------------
def test_literals_sort_before_patterns() -> None:
    assert ordered("_1XX", "100", "_X.", "s") == ["100", "s", "_1XX", "_X."]


def test_specific_pattern_before_generic() -> None:
    assert ordered("_X.", "_1XX", "_1!") == ["_1XX", "_1!", "_X."]


def test_dot_sorts_after_any_set_and_bang_after_dot() -> None:
    assert ordered("_1!", "_1.", "_1X") == ["_1X", "_1.", "_1!"]


def test_set_sizes_order_positions() -> None:
    # literal (1) < [12] (2) < N (8) < Z (9) < X (10)
    assert ordered("_X", "_Z", "_N", "_[12]", "_5") == ["_5", "_[12]", "_N", "_Z", "_X"]


def test_equal_sized_sets_sort_by_lowest_character() -> None:
    assert ordered("_[5-9]", "_[0-4]") == ["_[0-4]", "_[5-9]"]
    assert ordered("_[13]", "_[12]") == ["_[12]", "_[13]"]


def test_range_set_size_counts_members() -> None:
    # [0-4] has 5 members, [0-9] has 10 like X: the smaller set wins.
    assert ordered("_1X", "_1[0-4]") == ["_1[0-4]", "_1X"]


def test_bracket_set_equal_to_x_ties_with_x() -> None:
    assert ext_cmp_key("_[0-9]") == ext_cmp_key("_X")


def test_pattern_letters_are_case_insensitive_for_ordering() -> None:
    assert ext_cmp_key("_1xx") == ext_cmp_key("_1XX")


def test_end_of_pattern_weighs_more_than_any_character() -> None:
    # The end of a pattern weighs 0x30000, more than any set: the longer one comes first.
    assert ordered("_1XX", "_1XXX") == ["_1XXX", "_1XX"]


def test_dashes_do_not_count_in_literals_or_patterns() -> None:
    assert ext_cmp_key("555-1212") == ext_cmp_key("5551212")
    assert ext_cmp_key("_555-XXXX") == ext_cmp_key("_555XXXX")


def test_earlier_position_decides_before_later() -> None:
    # position 1: N (8) beats X (10) even though position 2 is X vs literal
    assert ordered("_X1", "_NX") == ["_NX", "_X1"]


# --- matching -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "data", "match", "canmatch", "matchmore"),
    [
        ("100", "100", 1, 1, 0),
        ("100", "10", 0, 1, 1),
        ("100", "1000", 0, 0, 0),
        ("100", "", 0, 1, 1),
        ("555-1212", "5551212", 1, 1, 0),
        ("5551212", "555-12-12", 1, 1, 0),
        ("_1XX", "100", 1, 1, 0),
        ("_1XX", "10", 0, 1, 1),
        ("_1XX", "1000", 0, 0, 0),
        ("_1XX", "200", 0, 0, 0),
        ("_NXX", "100", 0, 0, 0),
        ("_NXX", "200", 1, 1, 0),
        ("_ZXX", "100", 1, 1, 0),
        ("_ZXX", "000", 0, 0, 0),
        ("_nxx", "299", 1, 1, 0),
        ("_9.", "9", 0, 1, 1),
        ("_9.", "91", 1, 1, 1),
        ("_9.", "9123456", 1, 1, 1),
        ("_9!", "9", EARLY_MATCH, EARLY_MATCH, EARLY_MATCH),
        ("_9!", "912", EARLY_MATCH, EARLY_MATCH, EARLY_MATCH),
        ("_[1-3]X", "25", 1, 1, 0),
        ("_[1-3]X", "45", 0, 0, 0),
        ("_[135]", "3", 1, 1, 0),
        ("_[135]", "2", 0, 0, 0),
        ("_[a-c]", "b", 1, 1, 0),
        ("_[]1", "1", 1, 1, 0),  # an empty set is ignored
        ("_1[2", "12", 0, 0, 0),  # unclosed set fails when reached
        ("_1[2", "1", 0, 1, 1),
        ("_abc", "abc", 1, 1, 0),
        ("_abc", "ABC", 0, 0, 0),  # other letters are literal and case-sensitive
        ("_X/100", "5", 1, 1, 0),  # '/' ends the pattern
        ("_1-X-X", "123", 1, 1, 0),
        ("_9.5", "91", 1, 1, 1),  # nothing after '.' matters
        ("s", "s", 1, 1, 0),
        ("s", "S", 0, 0, 0),
    ],
)
def test_match_modes(pattern: str, data: str, match: int, canmatch: int, matchmore: int) -> None:
    compiled = ExtensionPattern(pattern)
    assert compiled.match(data, M) == match
    assert compiled.match(data, C) == canmatch
    assert compiled.match(data, MM) == matchmore
    assert compiled.matches(data) == bool(match)


def test_module_level_helper() -> None:
    assert extension_match("_X.", "55") == MATCHED
    assert extension_match("_X.", "5") == NO_MATCH


# --- properties -----------------------------------------------------------------------------
pattern_elements = st.sampled_from(["X", "Z", "N", "1", "5", "[1-3]", "[05]", "-"])
patterns = st.builds(
    lambda body, tail: "_" + "".join(body) + tail,
    st.lists(pattern_elements, min_size=0, max_size=5),
    st.sampled_from(["", ".", "!"]),
)
digits = st.text(alphabet="0123456789-", max_size=7)


@given(patterns, digits)
def test_fast_match_agrees_with_the_core_routine(pattern: str, data: str) -> None:
    compiled = ExtensionPattern(pattern)
    assert compiled.matches(data) == bool(compiled.match(data, M))


@given(patterns, digits)
def test_modes_are_consistent(pattern: str, data: str) -> None:
    compiled = ExtensionPattern(pattern)
    match, canmatch, more = (compiled.match(data, mode) for mode in (M, C, MM))
    if match:
        assert canmatch  # a full match is also a "can match"
    if more and more != EARLY_MATCH:
        assert canmatch


@given(patterns, digits)
def test_agrees_with_the_documented_regex_translation(pattern: str, data: str) -> None:
    body = re.sub(r"-(?![^\[]*\])", "", pattern[1:])  # dashes outside [...] are decoration
    translated = (
        body.replace("X", "[0-9]").replace("Z", "[1-9]").replace("N", "[2-9]")
        .replace(".", ".+").replace("!", ".*")
    )
    assert ExtensionPattern(pattern).matches(data) == bool(re.fullmatch(translated, data.replace("-", "")))


@given(st.lists(patterns, min_size=2, max_size=6))
def test_ordering_is_a_total_order(names: list[str]) -> None:
    once = [ext_cmp_key(n) for n in sorted(names, key=ext_cmp_key)]
    again = [ext_cmp_key(n) for n in sorted(reversed(names), key=ext_cmp_key)]
    assert once == again
