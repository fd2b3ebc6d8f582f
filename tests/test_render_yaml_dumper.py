"""Rendered YAML is written with libyaml's emitter: the same bytes as PyYAML's pure-Python
``safe_dump``, which wrote the golden render, on every kind of value a render writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from meshlink.offline import render

GOLDEN = Path(__file__).resolve().parent / "golden" / "dev"

AWKWARD_VALUES: dict[str, Any] = {
    "pem": "-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAK\n-----END CERTIFICATE-----\n",
    "unicode": "café ✓ 日本 🙂",
    "long line": "x" * 3000,
    "long words": " ".join(["word"] * 600),
    "colon": "a: b",
    "number-like": "1.0",
    "boolean-like": "yes",
    "null-like": "null",
    "empty": "",
    "integer": 3,
    "float": 1.5,
    "boolean": True,
    "none": None,
    "nested": [[], {}, [1, "2"], {"b": 1, "a": [True]}],
    "trailing space": "line \n",
    "leading space": " x",
    "tab": "a\tb",
    "quotes": 'it\'s "quoted"',
    "comment-like": "# c",
    "two lines": "a\nb",
    "control": "\x01",
    "alias-like": "*a",
    "no-break space": "a\u00a0b",
    "crlf": "a\r\nb",
    "newline only": "\n",
}


def _python_dump(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=True, default_flow_style=False, width=1000)


def test_renders_use_libyaml() -> None:
    assert yaml.__with_libyaml__
    assert render.YAML_DUMPER is yaml.CSafeDumper


@pytest.mark.parametrize("key", sorted(AWKWARD_VALUES))
def test_libyaml_writes_the_same_bytes_as_pure_python(key: str) -> None:
    document = {key: AWKWARD_VALUES[key], "metadata": {"name": key}}
    assert render._dump(document) == _python_dump(document)


def test_every_golden_manifest_is_written_back_byte_for_byte() -> None:
    files = sorted(GOLDEN.rglob("*.yaml"))
    assert files, "the golden render has no YAML files"
    for path in files:
        assert render._dump(yaml.safe_load(path.read_text())) == path.read_text(), path
