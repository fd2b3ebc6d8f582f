"""The offline emulation of pulumi-random that gives the dev stack's demo its password: the
provider's rules for the character classes and minimums, its output names, a real bcrypt
hash, and deterministic values for byte-identical renders."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import bcrypt
import pulumi
import pulumi_random as random
import pytest

from meshlink.offline.engine import OfflineMocks, run_program
from meshlink.offline.random_emulation import (
    LOWER,
    NUMERIC,
    PASSWORD_TYPE,
    SPECIAL,
    STRING_TYPE,
    UPPER,
    RandomEmulationError,
    emulate,
)


def password(inputs: Mapping[str, Any], *, name: str = "pw", seed: str = "s") -> dict[str, Any]:
    _, outputs = emulate(PASSWORD_TYPE, name, dict(inputs), seed=seed)
    return outputs


def test_defaults_use_every_class_and_report_them_back() -> None:
    outputs = password({"length": 64})
    result = outputs["result"]
    assert len(result) == 64
    assert set(result) <= set(UPPER + LOWER + NUMERIC + SPECIAL)
    assert {k: outputs[k] for k in ("upper", "lower", "numeric", "number", "special")} == {
        "upper": True,
        "lower": True,
        "numeric": True,
        "number": True,
        "special": True,
    }
    assert outputs["minUpper"] == outputs["minSpecial"] == 0


def test_minimums_are_met_and_override_special_replaces_the_special_set() -> None:
    for seed in ("a", "b", "c", "d"):
        result = password(
            {
                "length": 12,
                "minUpper": 3,
                "minNumeric": 3,
                "minSpecial": 3,
                "overrideSpecial": "-_",
            },
            seed=seed,
        )["result"]
        assert sum(c in UPPER for c in result) >= 3
        assert sum(c in NUMERIC for c in result) >= 3
        assert sum(c in "-_" for c in result) >= 3
        assert not set(result) & (set(SPECIAL) - set("-_"))


def test_switched_off_classes_are_not_used_but_minimums_still_are() -> None:
    # The provider draws min_* characters from a class even when the class is off.
    result = password(
        {"length": 20, "upper": False, "special": False, "numeric": False, "minUpper": 2}
    )["result"]
    assert sum(c in UPPER for c in result) == 2
    assert sum(c in LOWER for c in result) == 18


def test_bcrypt_hash_is_a_real_hash_of_the_result() -> None:
    outputs = password({"length": 16})
    assert outputs["bcryptHash"].startswith("$2a$10$")
    assert bcrypt.checkpw(outputs["result"].encode(), outputs["bcryptHash"].encode())


def test_values_are_deterministic_per_seed_and_name() -> None:
    assert password({"length": 24}) == password({"length": 24})
    assert password({"length": 24})["result"] != password({"length": 24}, name="other")["result"]
    assert password({"length": 24})["result"] != password({"length": 24}, seed="t")["result"]


def test_random_string_uses_its_result_as_id_and_has_no_hash() -> None:
    resource_id, outputs = emulate(STRING_TYPE, "s", {"length": 8, "special": False}, seed="x")
    assert resource_id == outputs["result"]
    assert "bcryptHash" not in outputs


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({}, "length is required"),
        ({"length": 4, "minUpper": 3, "minLower": 3}, "must be at least"),
        ({"length": 0}, "must be at least 1"),
        ({"length": 8, "minSpecial": -1}, "must not be negative"),
        (
            {"length": 8, "upper": False, "lower": False, "numeric": False, "special": False},
            "character set specified is empty",
        ),
    ],
)
def test_inputs_the_provider_refuses_are_refused(inputs: dict[str, Any], expected: str) -> None:
    with pytest.raises(RandomEmulationError, match=expected):
        password(inputs)


def test_the_engine_dispatches_random_types_and_keeps_the_result_secret() -> None:
    def program() -> None:
        generated = random.RandomPassword("db", length=20, special=False)
        pulumi.export("password", generated.result)

    run = run_program(program, project="p", stack="s", mocks=OfflineMocks(seed="fixed"))
    (registration,) = run.of_type(PASSWORD_TYPE)
    assert {"result", "bcryptHash"} <= registration.secret_outputs
    assert run.secret_outputs == {"password"}
    assert (
        run.outputs["password"]
        == password({"length": 20, "special": False}, name="db", seed="fixed")["result"]
    )
