"""What each Istio host, name and duration field accepts."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest

from meshlink.istio.values import (
    check_destination_host,
    check_export_to,
    check_gateway_host,
    check_gateway_reference,
    check_label_key,
    check_label_value,
    check_service_entry_host,
    check_service_host,
    check_sidecar_host,
    format_duration,
    parse_duration,
    sni_matches_host,
)

HOST_RULES: dict[str, tuple[Callable[[str], str], list[str], list[str]]] = {
    "service host (DestinationRule, VirtualService)": (
        check_service_host,
        ["mysql", "mysql.db", "mysql.db.svc.cluster.local", "*.example.com", "a-1.example.com"],
        [
            "*",
            "",
            "Mysql.example.com",
            "mysql.",
            "my*.example.com",
            "*.*.example.com",
            "10.0.0.1",
            "db/mysql",
        ],
    ),
    "route destination": (
        check_destination_host,
        ["mysql", "mysql.db.svc.cluster.local"],
        ["*", "*.example.com", "mysql_db"],
    ),
    "ServiceEntry host": (
        check_service_entry_host,
        ["mysql.link.example.internal", "*.example.com"],
        ["*", "mysql", "-a.example.com", "192.168.1.1"],
    ),
    "Gateway host": (
        check_gateway_host,
        [
            "a.example.com",
            "*.example.com",
            "*",
            "./a.example.com",
            "*/a.example.com",
            "prod/*",
            "prod/*.example.com",
        ],
        ["mysql", "~/a.example.com", "Prod/a.example.com", "prod/mysql", "prod/", "/a.example.com"],
    ),
    "Sidecar egress host": (
        check_sidecar_host,
        [
            "./a.example.com",
            "*/*",
            "~/*",
            "istio-system/istio-egressgateway.istio-system.svc.cluster.local",
        ],
        ["a.example.com", "./mysql", "bad_ns/*", "./*.*"],
    ),
    "gateway reference": (
        check_gateway_reference,
        ["mesh", "gateway-mysql", "istio-system/gateway-mysql"],
        ["", "istio-system/", "a/b/c", "gateway.mysql", "Mesh"],
    ),
}


@pytest.mark.parametrize("rule", sorted(HOST_RULES))
def test_hosts_accepted_and_refused(rule: str) -> None:
    check, good, bad = HOST_RULES[rule]
    for value in good:
        assert check(value) == value
    for value in bad:
        with pytest.raises(ValueError):
            check(value)
            pytest.fail(f"{rule} accepted {value!r}")


@pytest.mark.parametrize(
    ("sni", "host", "covered"),
    [
        ("a.example.com", "a.example.com", True),
        ("a.example.com", "*.example.com", True),
        ("*.a.example.com", "*.example.com", True),
        ("example.com", "*.example.com", False),
        ("a.example.org", "*.example.com", False),
        ("anything.at.all", "*", True),
        ("*.example.com", "a.example.com", False),
    ],
)
def test_sni_must_be_covered_by_a_host(sni: str, host: str, covered: bool) -> None:
    assert sni_matches_host(sni, host) is covered


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10s", dt.timedelta(seconds=10)),
        ("250ms", dt.timedelta(milliseconds=250)),
        ("1h30m", dt.timedelta(hours=1, minutes=30)),
        ("1.5s", dt.timedelta(milliseconds=1500)),
        ("2m0.5s", dt.timedelta(seconds=120.5)),
        ("1500us", dt.timedelta(microseconds=1500)),
    ],
)
def test_go_durations_parse(text: str, expected: dt.timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "10", "s", "1d", "10 s", "-5s", "1h 30m", "ten seconds"])
def test_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.timedelta(hours=1), "3600s"),
        (dt.timedelta(milliseconds=1500), "1500ms"),
        (dt.timedelta(microseconds=1500), "1500us"),
    ],
)
def test_timedeltas_format_as_go_durations_that_parse_back(
    value: dt.timedelta, expected: str
) -> None:
    assert format_duration(value) == expected
    assert parse_duration(expected) == value


@pytest.mark.parametrize(
    ("values", "allow_none", "problem"),
    [
        ([".", "."], False, "listed twice"),
        (["*", "db"], False, "cannot be combined"),
        (["~"], False, "only allowed on ServiceEntry"),
        (["~", "."], True, "cannot be combined"),
        (["Bad"], False, "not '.', '*', '~' or a namespace"),
        ([], False, "leave exportTo unset"),
    ],
)
def test_export_to_rules(values: list[str], allow_none: bool, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        check_export_to(values, allow_none=allow_none)


def test_export_to_accepts_what_istio_accepts() -> None:
    check_export_to(None, allow_none=False)
    check_export_to([".", "db-clients"], allow_none=False)
    check_export_to(["~"], allow_none=True)
    check_export_to(["*"], allow_none=False)


def test_label_keys_and_values() -> None:
    for key in ["app", "app.kubernetes.io/name", "topology.istio.io/network", "a_b.c-d"]:
        assert check_label_key(key) == key
    for key in ["", "-app", "a/b/c", "UPPER.example.com/x", "x" * 64]:
        with pytest.raises(ValueError):
            check_label_key(key)
    for value in ["", "v1", "a.b_c-d"]:
        assert check_label_value(value) == value
    for value in ["*", "a b", "-x", "x" * 64]:
        with pytest.raises(ValueError):
            check_label_value(value)
