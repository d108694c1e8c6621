from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbxedge.acl import Acl, AclSyntaxError, parse_network


def build(*rules: tuple[str, str]) -> Acl:
    acl = Acl()
    for sense, spec in rules:
        acl = acl.extended(spec, permit=sense == "permit")
    return acl


def test_empty_acl_permits_everything() -> None:
    acl = Acl()
    assert not acl.is_set
    assert acl.permits("192.0.2.1") and acl.permits("2001:db8::1")


def test_deny_all_then_permit_range_last_match_wins() -> None:
    acl = build(("deny", "0.0.0.0/0.0.0.0"), ("permit", "209.16.236.73/255.255.255.0"))
    assert acl.is_set
    assert acl.permits("209.16.236.1")
    assert not acl.permits("209.16.237.1")


def test_order_matters_permit_then_deny() -> None:
    acl = build(("permit", "10.0.0.0/8"), ("deny", "0.0.0.0/0"))
    assert not acl.permits("10.1.2.3")


def test_single_host_and_prefix_forms() -> None:
    acl = build(("deny", "0.0.0.0/0"), ("permit", "192.0.2.7"), ("permit", "198.51.100.0/24"))
    assert acl.permits("192.0.2.7") and not acl.permits("192.0.2.8")
    assert acl.permits("198.51.100.200")


def test_ipv6_rules_and_mapped_addresses() -> None:
    acl = build(("deny", "::/0"), ("permit", "2001:db8::/32"))
    assert acl.permits("2001:db8:1::5")
    assert not acl.permits("2001:db9::1")
    # An IPv4 caller meets IPv6 rules as ::ffff:a.b.c.d, which ::/0 covers.
    assert not acl.permits("192.0.2.1")


def test_ipv4_rule_matches_v4_mapped_ipv6_only() -> None:
    acl = build(("deny", "192.0.2.0/24"))
    assert not acl.permits("::ffff:192.0.2.9")
    assert acl.permits("2001:db8::1")


def test_comma_list_and_negation() -> None:
    acl = build(("deny", "0.0.0.0/0"), ("permit", "10.0.0.0/8, !10.9.0.0/16"))
    assert acl.permits("10.1.0.1")
    assert not acl.permits("10.9.0.1")


def test_host_bits_are_masked() -> None:
    assert parse_network("10.1.1.7/255.255.255.0") == ipaddress.ip_network("10.1.1.0/24")
    assert parse_network("[2001:db8::1]/64") == ipaddress.ip_network("2001:db8::/64")


@pytest.mark.parametrize("spec", ["nonsense", "10.0.0.0/33", "10.0.0.0/255.0.255.0", "", "10.0.0.1,bad"])
def test_bad_rules_raise_and_leave_acl_unchanged(spec: str) -> None:
    acl = build(("deny", "0.0.0.0/0"))
    with pytest.raises(AclSyntaxError):
        acl.extended(spec, permit=True)
    assert len(acl.rules) == 1


def test_unparsable_address_is_never_permitted() -> None:
    assert not Acl().permits("not-an-ip")


@given(st.ip_addresses(v=4), st.integers(min_value=0, max_value=32), st.ip_addresses(v=4))
def test_matches_ipaddress_membership(net_ip: ipaddress.IPv4Address, prefix: int, probe: ipaddress.IPv4Address) -> None:
    network = ipaddress.ip_network(f"{net_ip}/{prefix}", strict=False)
    acl = build(("deny", "0.0.0.0/0"), ("permit", str(network)))
    assert acl.permits(str(probe)) == (probe in network)
