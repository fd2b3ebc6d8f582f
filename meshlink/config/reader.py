"""Reading one configuration namespace: each key once, every problem collected, and at the
end one error that names each offending key and never repeats the value of a secret key."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

import pulumi.runtime.config as runtime_config
from pydantic import BaseModel, ValidationError

from meshlink.validation import MeshlinkValidationError, describe_validation_error

WHERE = "configuration"
"""What a configuration error is about (``MeshlinkValidationError.where``)."""


MISSING: Any = object()
"""What ``ConfigReader.raw`` returns for an unset key."""
INVALID: Any = object()
"""What ``ConfigReader.raw`` returns for a key whose value cannot be decoded."""
ModelT = TypeVar("ModelT", bound=BaseModel)


class ConfigReader:
    """Reads one namespace's keys and collects every problem, so that one error reports
    them all."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.problems: list[str] = []
        self.known: set[str] = set()

    def path(self, key: str) -> str:
        return f"{self.namespace}:{key}"

    def is_secret(self, key: str) -> bool:
        return runtime_config.is_config_secret(self.path(key))

    def raw(self, key: str, *, text: bool = False) -> Any:
        """The key's value (JSON-decoded unless ``text``), ``MISSING`` when unset,
        ``INVALID`` (with a problem recorded) when it cannot be decoded."""
        self.known.add(key)
        value = runtime_config.get_config(self.path(key))
        if value is None:
            return MISSING
        if text:
            return str(value)
        try:
            return json.loads(value)
        except (TypeError, json.JSONDecodeError):
            found = "" if self.is_secret(key) else f" (found: {str(value)[:60]!r})"
            self.problems.append(f"{self.path(key)}: expected a YAML/JSON value{found}")
            return INVALID

    def section(
        self, model: type[ModelT], key: str, *, required: bool, default: Any = None
    ) -> ModelT | None:
        """Key ``key`` validated by ``model``; None (problem recorded) when it is bad or,
        being required, missing."""
        value = self.raw(key)
        if value is INVALID:
            return None
        if value is MISSING:
            if required:
                self.problems.append(
                    f"{self.path(key)}: is required (see Pulumi.yaml for its shape)"
                )
                return None
            value = {} if default is None else default
        if not isinstance(value, dict):
            return self.wrong_shape(key, "an object", value)
        return self.part(model, value, f"{self.path(key)}.", secret=self.is_secret(key))

    def items(self, model: type[ModelT], key: str, *, required: bool) -> list[ModelT] | None:
        """A list key, each item validated by ``model``; None when any item is bad."""
        value = self.raw(key)
        if value is INVALID:
            return None
        if value is MISSING:
            if required:
                self.problems.append(
                    f"{self.path(key)}: is required (see Pulumi.yaml for its shape)"
                )
                return None
            return []
        if not isinstance(value, list):
            return self.wrong_shape(key, "a list", value)
        if required and not value:
            self.problems.append(f"{self.path(key)}: needs at least one entry")
            return None
        secret = self.is_secret(key)
        parsed = [
            self.part(model, item, f"{self.path(key)}[{index}].", secret=secret)
            if isinstance(item, dict)
            else self.wrong_shape(f"{key}[{index}]", "an object", item, secret=secret)
            for index, item in enumerate(value)
        ]
        if any(p is None for p in parsed):
            return None
        return cast(list[ModelT], parsed)

    def text(
        self, key: str, *, required: bool, check: Callable[[str], str] | None = None
    ) -> str | None:
        """A string key; an empty string counts as unset."""
        value = self.raw(key, text=True)
        if value is MISSING or value == "":
            if required:
                self.problems.append(f"{self.path(key)}: is required")
            return None
        if check is not None:
            try:
                check(value)
            except ValueError as error:
                self.problems.append(f"{self.path(key)}: {error}")
                return None
        return str(value)

    def strings(
        self, key: str, *, required: bool, check: Callable[[str], Any] | None = None
    ) -> list[str] | None:
        value = self.raw(key)
        if value is INVALID:
            return None
        if value is MISSING or value == []:
            if required:
                self.problems.append(f"{self.path(key)}: is required (a non-empty list)")
                return None
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return self.wrong_shape(key, "a list of strings", value)
        bad = False
        for index, item in enumerate(value):
            if check is None:
                continue
            try:
                check(item)
            except ValueError as error:
                self.problems.append(f"{self.path(key)}[{index}]: {error}")
                bad = True
        repeated = sorted({v for v in value if value.count(v) > 1})
        if repeated:
            self.problems.append(f"{self.path(key)}: lists {repeated} more than once")
            bad = True
        return None if bad else list(value)

    def part(
        self, model: type[ModelT], values: Mapping[str, Any], prefix: str, *, secret: bool = False
    ) -> ModelT | None:
        """``values`` validated by ``model``; None with the problems recorded under
        ``prefix``. Inputs are not repeated for secret keys."""
        try:
            return model.model_validate(dict(values))
        except ValidationError as error:
            lines = describe_validation_error(error, prefix=prefix, show_input=not secret)
            if secret:
                # Validators repeat a bad value in their message; a secret one must not be.
                lines = [
                    _without_value(line, item.get("input"))
                    for line, item in zip(lines, error.errors(include_url=False), strict=True)
                ]
            self.problems.extend(lines)
            return None

    def wrong_shape(self, key: str, expected: str, value: Any, *, secret: bool = False) -> Any:
        """Records the problem; returns None so callers can ``return`` it."""
        found = "" if secret or self.is_secret(key) else f" (found: {json.dumps(value)[:60]})"
        self.problems.append(f"{self.path(key)}: expected {expected}{found}")
        return None

    def reject_unknown_keys(self) -> None:
        """A key this program does not read is a typo or a leftover; both deserve a
        message rather than being silently ignored."""
        present = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
        prefix = f"{self.namespace}:"
        for full_key in sorted(present):
            if full_key.startswith(prefix) and full_key[len(prefix) :] not in self.known:
                known = ", ".join(sorted(self.known))
                self.problems.append(
                    f"{full_key}: is not a setting of this program (it reads: {known})"
                )

    def secret_texts(self) -> list[str]:
        """Every text inside the values of this namespace's secret keys, longest first.

        Cross-key checks (the demo against ``services``, names derived from
        ``link_name``) quote values of other keys; scrubbing these texts from every
        problem keeps a secret key's value out of the error whichever check quotes it."""
        texts: set[str] = set()

        def walk(value: Any) -> None:
            if isinstance(value, dict):
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)
            elif isinstance(value, str) and len(value) >= 3:
                texts.add(value)

        for key in sorted(self.known):
            if not self.is_secret(key):
                continue
            raw = runtime_config.get_config(self.path(key))
            if raw is None:
                continue
            texts.add(str(raw))
            try:
                walk(json.loads(raw))
            except (TypeError, json.JSONDecodeError):
                walk(str(raw))
        return sorted(texts, key=len, reverse=True)

    def raise_if_problems(self) -> None:
        if self.problems:
            secrets = self.secret_texts()
            problems = []
            for line in dict.fromkeys(self.problems):
                for text in secrets:
                    line = line.replace(text, "<secret value>")
                problems.append(line)
            raise MeshlinkValidationError(WHERE, problems)


def _without_value(line: str, value: Any) -> str:
    if isinstance(value, str | int | float) and str(value):
        for shown in (repr(value), str(value)):
            line = line.replace(shown, "<secret value>")
    return line


def reject_derived(
    reader: ConfigReader, values: Mapping[str, Any], derived: Mapping[str, str], prefix: str
) -> bool:
    """Records a problem for each key of ``derived`` set in ``values``, with why the program
    sets it; True when none is."""
    clean = True
    for key, why in derived.items():
        if key in values:
            reader.problems.append(f"{prefix}{key}: cannot be set here; it {why}")
            clean = False
    return clean


def finish(reader: ConfigReader) -> None:
    """The last step of every loader: unknown keys are problems too, then one error."""
    reader.reject_unknown_keys()
    reader.raise_if_problems()
