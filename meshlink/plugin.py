"""meshlink for every Pulumi language: the components served as a provider plugin.

Pulumi's Python component provider host (``pulumi.provider.experimental``) serves Python
components to TypeScript, Go, YAML and the other languages, with a schema it infers from
each component's ``args`` annotation and its attribute docstrings. Its analyzer reads the
annotations as objects, while meshlink's modules postpone them (``from __future__ import
annotations``: they are source text at run time), and it knows neither ``Literal`` nor
``Annotated`` nor unions. :class:`CrossLanguageAnalyzer` is the SDK's analyzer with those
gaps closed, so the schema still comes from the same ``TypedDict``s and docstrings the
Python API uses; nothing here restates an argument.

What cannot cross a language boundary stays Python-only, and the schema says so in the
component's description: a ``LinkIssuer`` object (``issuer``) lives in the Python process
that made it. Where an argument takes either a Python object or an argument dict (``link_ca``,
and the ``LinkServerSettings``-style models the halves also take), the schema offers the dict.

``provider/pulumi-resource-meshlink`` runs :func:`main`; type tokens are
``meshlink:index:<Class>``.
"""

from __future__ import annotations

import ast
import functools
import inspect
import json
import sys
import types
import typing
from typing import Annotated, Any, ForwardRef, Literal, Union

import pulumi
from pulumi.provider import Provider
from pulumi.provider import main as serve_provider
from pulumi.provider.experimental.analyzer import (
    Analyzer,
    ComponentDefinition,
    PropertyDefinition,
    PropertyType,
    is_input,
    is_simple,
)
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.experimental.schema import generate_schema
from pulumi.provider.experimental.util import camel_case

from meshlink import __version__
from meshlink.argdocs import field_docs
from meshlink.mesh import (
    EgressGateway,
    ExistingIngressGateway,
    FanInLink,
    IngressGateway,
    LinkClient,
    LinkServer,
    MeshLink,
    PartnerLink,
)
from meshlink.outputs import declared_outputs, output_docs
from meshlink.pki import (
    CertificateAuthority,
    ExistingCertificateAuthority,
    ExternallySignedCertificateAuthority,
)
from meshlink.source import class_node

PACKAGE = "meshlink"

COMPONENTS: tuple[type[pulumi.ComponentResource], ...] = (
    MeshLink,
    FanInLink,
    PartnerLink,
    LinkClient,
    LinkServer,
    EgressGateway,
    IngressGateway,
    ExistingIngressGateway,
    CertificateAuthority,
    ExistingCertificateAuthority,
    ExternallySignedCertificateAuthority,
)
"""The public components whose required arguments can all cross languages.
``LeafCertificate`` (its ``issuer`` is a ``LinkIssuer`` object) and
``GatewayCredentialSecret`` (its ``certificate`` is a ``LeafCertificate``) cannot."""

SECRET_FIELDS = frozenset({"private_key_pem", "kubeconfig"})
"""Arguments that are key material or cluster credentials wherever they appear: the schema
marks them secret, so every language's SDK encrypts them in its state and logs. The
components treat them as secrets whatever they receive."""

_NONE = type(None)


class PythonOnlyArgumentError(TypeError):
    """A component's required argument is a Python object, which no other language can
    pass: the component cannot be served."""


def _evaluate(annotation: Any, module: str) -> Any:
    """A postponed annotation (text, or a ``TypedDict``'s ``ForwardRef``) as the object it
    names, in the namespace of the module that wrote it. ``pulumi.Input``'s own forward
    reference to ``Output[T]`` is left as is: the SDK's analyzer recognises it."""
    if isinstance(annotation, ForwardRef):
        module = annotation.__forward_module__ or module
        annotation = annotation.__forward_arg__
    if isinstance(annotation, str):
        return eval(annotation, vars(sys.modules[module]))  # noqa: S307 - the package's source
    return annotation


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (Union, types.UnionType)


def _crosses(annotation: Any) -> bool:
    """Whether another language can pass a value of this annotation."""
    origin = typing.get_origin(annotation)
    if origin is Annotated or origin in (typing.Required, typing.NotRequired):
        return _crosses(typing.get_args(annotation)[0])
    if _is_union(annotation):
        return any(
            _crosses(member) for member in typing.get_args(annotation) if member is not _NONE
        )
    if origin is Literal:
        return True
    if origin is not None:  # Sequence[...], Mapping[...]: as their items
        return all(_crosses(item) for item in typing.get_args(annotation))
    if annotation is Any or not isinstance(annotation, type):
        return True  # Any (a class in Python 3.11), or a value the analyzer reads itself
    if typing.is_typeddict(annotation) or annotation.__module__ == "builtins":
        return True
    # A provider is passed by reference; any other resource or Python object is not.
    return issubclass(annotation, pulumi.ProviderResource)


def _cross_language(annotation: Any) -> Any:
    """The form of ``annotation`` the SDK's analyzer understands, meaning the same to a
    caller in another language."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return typing.get_args(annotation)[0]
    if origin is Literal:
        value_types = {type(value) for value in typing.get_args(annotation)}
        # The allowed values are in the description; the component checks them.
        return value_types.pop() if len(value_types) == 1 else Any
    if _is_union(annotation) and not is_input(annotation):
        members = [m for m in typing.get_args(annotation) if m is not _NONE]
        optional = len(members) < len(typing.get_args(annotation))
        crossing = [m for m in members if _crosses(m)]
        if len(crossing) == 1:
            chosen = crossing[0]
        elif all(is_simple(_cross_language(m)) for m in crossing):
            chosen = Any  # e.g. a rotation given as a date or a number
        else:
            raise TypeError(f"no single cross-language form for {annotation}")
        return typing.Optional[chosen] if optional and len(members) > 1 else chosen  # noqa: UP045
    return annotation


def _own_docstring(cls: type) -> str | None:
    """The class docstring as written: ``argdocs.documents`` extends ``__doc__`` with the
    arguments, which the schema lists property by property."""
    node = class_node(cls)
    return ast.get_docstring(node) if node is not None else cls.__doc__


def _args_type(component: type[pulumi.ComponentResource]) -> type:
    """The ``TypedDict`` of a component's ``args``: the halves and gateways also take their
    validated settings models, which only other meshlink components build."""
    annotation = _evaluate(
        inspect.get_annotations(vars(component)["__init__"])["args"], component.__module__
    )
    members = typing.get_args(annotation) if _is_union(annotation) else (annotation,)
    dicts = [m for m in members if isinstance(m, type) and typing.is_typeddict(m)]
    if len(dicts) != 1:
        raise TypeError(f"{component.__name__}: args must name exactly one TypedDict")
    return dicts[0]


class CrossLanguageAnalyzer(Analyzer):
    """The SDK's schema analyzer, reading meshlink's postponed annotations, documentation
    and declared outputs."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.python_only: dict[str, list[str]] = {}
        """Per argument type, the fields left out of the schema."""

    def analyze_component(self, component: type[pulumi.ComponentResource]) -> ComponentDefinition:
        args = _args_type(component)
        known = {name: len(fields) for name, fields in self.python_only.items()}
        inputs, inputs_mapping = self.analyze_type(args, is_component_output=False)
        outputs, outputs_mapping = self.analyze_type(component, is_component_output=True)
        description = _own_docstring(component) or ""
        left_out = list(self.python_only.get(args.__name__, []))
        # Fields of nested argument types left out while this component was analysed.
        for name, fields in self.python_only.items():
            if name != args.__name__:
                left_out += [f"{name}.{field}" for field in fields[known.get(name, 0) :]]
        if left_out:
            listed = ", ".join(f"`{camel_case(name)}`" for name in left_out)
            description += f"\n\nIn Python only (a Python object, not a value): {listed}."
        return ComponentDefinition(
            name=component.__name__,
            description=description.strip() or None,
            inputs=inputs,
            inputs_mapping=inputs_mapping,
            outputs=outputs,
            outputs_mapping=outputs_mapping,
            module=component.__module__,
        )

    def analyze_type(
        self, typ: type, *, is_component_output: bool
    ) -> tuple[dict[str, PropertyDefinition], dict[str, str]]:
        if typing.is_typeddict(typ):
            fields = {
                key: _evaluate(annotation, typ.__module__)
                for key, annotation in typ.__annotations__.items()
            }
            # Python computes the optional keys before the postponed Required[...] and
            # NotRequired[...] are evaluated; the analyzer reads those markers itself.
            optional_keys: frozenset[str] = typ.__optional_keys__  # type: ignore[attr-defined]
        elif issubclass(typ, pulumi.ComponentResource):
            fields = {name: self._output_annotation(typ, name) for name in declared_outputs(typ)}
            optional_keys = frozenset()
        else:
            raise TypeError(f"{typ.__name__}: not an argument dict nor a component")
        properties: dict[str, PropertyDefinition] = {}
        mapping: dict[str, str] = {}
        for key, annotation in fields.items():
            if not _crosses(annotation):
                if typing.get_origin(annotation) is typing.Required or (
                    key not in optional_keys
                    and typing.get_origin(annotation) is not typing.NotRequired
                ):
                    raise PythonOnlyArgumentError(
                        f"{typ.__name__}.{key}: a required argument that is a Python object"
                    )
                self.python_only.setdefault(typ.__name__, []).append(key)
                continue
            properties[camel_case(key)] = self.analyze_property(
                annotation,
                typ,
                key,
                can_be_plain=not is_component_output,
                is_component_output=is_component_output,
                optional=True if key in optional_keys else None,
            )
            mapping[camel_case(key)] = key
        return properties, mapping

    @staticmethod
    def _output_annotation(component: type, name: str) -> Any:
        for klass in component.__mro__:
            annotation = vars(klass).get("__annotations__", {}).get(name)
            if annotation is not None:
                return _evaluate(annotation, klass.__module__)
        raise TypeError(f"{component.__name__}.{name}: declared without an annotation")

    def analyze_property(
        self,
        arg: type,
        typ: type,
        name: str,
        *,
        can_be_plain: bool,
        is_component_output: bool,
        optional: bool | None = None,
    ) -> PropertyDefinition:
        arg = _cross_language(arg)
        if isinstance(arg, type) and issubclass(arg, pulumi.ProviderResource):
            return self._provider_reference(arg, typ, name, optional=bool(optional))
        return super().analyze_property(
            arg,
            typ,
            name,
            can_be_plain=can_be_plain,
            is_component_output=is_component_output,
            optional=optional,
        )

    def _provider_reference(
        self, provider: type, typ: type, name: str, *, optional: bool
    ) -> PropertyDefinition:
        """A provider, passed by reference, typed ``Any``: a typed reference must name one
        release of the provider's schema (``/kubernetes/v4.34.2/schema.json#/provider``,
        from the Python SDK installed here), and binding the schema then loads exactly that
        release, whatever release the caller's program runs. The component checks that it
        received a provider of the right package."""
        package = getattr(provider, "pulumi_type", "").rpartition(":")[2]
        if not package:
            raise TypeError(f"{typ.__name__}.{name}: {provider.__name__} names no package")
        return PropertyDefinition(
            ref="pulumi.json#/Any",
            optional=optional,
            description=self.get_docstring(typ, name),
        )

    def get_docstring(self, typ: type, name: str) -> str | None:
        return _docs(typ).get(name) or None


@functools.cache
def _docs(typ: type) -> dict[str, str]:
    if typing.is_typeddict(typ):
        return field_docs(typ)
    if isinstance(typ, type) and issubclass(typ, pulumi.ComponentResource):
        return output_docs(typ)
    return {}


def _mark_secrets(schema: dict[str, Any]) -> None:
    secret_names = {camel_case(name) for name in SECRET_FIELDS}
    holders = [
        *(resource.get("inputProperties", {}) for resource in schema.get("resources", {}).values()),
        *(type_.get("properties", {}) for type_ in schema.get("types", {}).values()),
    ]
    for properties in holders:
        for property_name, spec in properties.items():
            if property_name in secret_names:
                spec["secret"] = True


def _as_integers(value: Any, prop: PropertyDefinition) -> Any:
    """``value`` with the whole floats an integer property (or list or map of them) holds
    turned back into integers."""
    if prop.type == PropertyType.INTEGER and isinstance(value, float) and value.is_integer():
        return int(value)
    if prop.items is not None and isinstance(value, list):
        return [_as_integers(item, prop.items) for item in value]
    if prop.additional_properties is not None and isinstance(value, dict):
        return {k: _as_integers(v, prop.additional_properties) for k, v in value.items()}
    return value


class MeshlinkProvider(ComponentProvider):
    """Pulumi's component provider for :data:`COMPONENTS`, with the schema of
    :class:`CrossLanguageAnalyzer`."""

    def __init__(self, version: str = __version__) -> None:
        self._name = PACKAGE
        self.analyzer = CrossLanguageAnalyzer(PACKAGE)
        result = self.analyzer.analyze(list(COMPONENTS))
        self._components = {component.__name__: component for component in COMPONENTS}
        self._component_defs = result["component_definitions"]
        self._type_defs = result["type_definitions"]
        self._external_enum_types = result["external_enum_types"]
        self._dependencies = sorted(result["dependencies"], key=lambda d: f"{d.name}{d.version}")
        schema = generate_schema(
            PACKAGE, version, None, self._component_defs, self._type_defs, self._dependencies
        ).to_json()
        _mark_secrets(schema)
        Provider.__init__(self, version, json.dumps(schema))

    def map_input_properties(
        self,
        inputs: Any,
        properties: dict[str, PropertyDefinition],
        mapping: dict[str, str],
        component_name: str,
        property_path: str,
    ) -> Any:
        """The SDK's mapping, with integers as integers: they arrive as floats, and the
        pinned SDK's ``ComponentProvider.map_input_properties`` converts each one and then
        stores the float again, which meshlink's strict integer settings refuse."""
        mapped = dict(
            super().map_input_properties(inputs, properties, mapping, component_name, property_path)
        )
        for schema_name, prop in properties.items():
            python_name = mapping[schema_name]
            if python_name in mapped:
                mapped[python_name] = _as_integers(mapped[python_name], prop)
        return mapped


def main() -> None:
    """Serve the provider to the engine whose address is on the command line."""
    serve_provider(MeshlinkProvider(), sys.argv[1:])


if __name__ == "__main__":
    main()
