"""The Bot API description (api.min.json) and the strict conversion of request values to it."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from localapi.errors import ApiError, bad_request

_INTEGER = re.compile(r"-?\d+")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")
# Subtypes of a union name their discriminator in the description: 'Scope type, must be chat'.
_DISCRIMINATOR = re.compile(r'(?:must be|always) "?([a-z_]+)"?$')
_DISCRIMINATOR_FIELDS = ("type", "source", "status")
_ATTACH = "attach://"

# Parameters PTB 22 still sends that newer Bot API descriptions renamed; Telegram accepts both.
_LEGACY_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "sendPoll": (("correct_option_id", "Integer"),),
}


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    data: bytes

    def __repr__(self) -> str:
        return f"UploadedFile({self.filename!r}, {self.content_type!r}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class Field:
    name: str
    types: tuple[str, ...]
    required: bool


@dataclass(frozen=True)
class ObjectType:
    name: str
    fields: Mapping[str, Field]
    subtypes: tuple[str, ...]
    discriminator: tuple[str, str] | None


@dataclass(frozen=True)
class Method:
    name: str
    fields: Mapping[str, Field]


@dataclass(frozen=True)
class Spec:
    version: str
    methods: Mapping[str, Method]
    types: Mapping[str, ObjectType]

    def method(self, name: str) -> Method | None:
        """Telegram matches method names case-insensitively."""
        return self.methods.get(name.lower())


def _field(raw: Mapping[str, Any]) -> Field:
    return Field(str(raw["name"]), tuple(raw["types"]), bool(raw["required"]))


def _discriminator(
    fields: Mapping[str, Field], raw_fields: Sequence[Any]
) -> tuple[str, str] | None:
    for raw in raw_fields:
        if raw["name"] in _DISCRIMINATOR_FIELDS:
            match = _DISCRIMINATOR.search(str(raw["description"]))
            if match and raw["name"] in fields:
                return str(raw["name"]), match.group(1)
    return None


@functools.cache
def load_spec() -> Spec:
    """Read the bundled description once per process."""
    text = resources.files("localapi").joinpath("api.min.json").read_text("utf-8")
    raw = json.loads(text)
    types: dict[str, ObjectType] = {}
    for name, body in raw["types"].items():
        raw_fields = body.get("fields", [])
        fields = {f["name"]: _field(f) for f in raw_fields}
        types[name] = ObjectType(
            name=name,
            fields=fields,
            subtypes=tuple(body.get("subtypes", ())),
            discriminator=_discriminator(fields, raw_fields),
        )
    methods: dict[str, Method] = {}
    for name, body in raw["methods"].items():
        fields = {f["name"]: _field(f) for f in body.get("fields", [])}
        for legacy, legacy_type in _LEGACY_FIELDS.get(name, ()):
            fields[legacy] = Field(legacy, (legacy_type,), False)
        methods[name.lower()] = Method(name=name, fields=fields)
    return Spec(version=str(raw["version"]), methods=methods, types=types)


class _Invalid(Exception):
    """A value that does not fit its declared type, with the path inside the parameter."""

    def __init__(self, path: tuple[str | int, ...], reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


def _describe(types: Sequence[str]) -> str:
    if len(types) == 1:
        return types[0]
    return ", ".join(types[:-1]) + " or " + types[-1]


def _format_path(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class _Converter:
    def __init__(self, spec: Spec, files: Mapping[str, UploadedFile]) -> None:
        self._spec = spec
        self._files = files

    def any_of(self, value: object, types: Sequence[str], path: tuple[str | int, ...]) -> Any:
        failures: list[_Invalid] = []
        for type_name in types:
            try:
                return self.one(value, type_name, path)
            except _Invalid as failure:
                failures.append(failure)
        # Report the alternative that got furthest: it is most likely the one that was meant.
        deepest = max(failures, key=lambda f: len(f.path))
        same = all((f.path, f.reason) == (deepest.path, deepest.reason) for f in failures)
        if same or len(deepest.path) > len(path):
            raise deepest
        raise _Invalid(path, f"must be {_describe(types)}")

    def one(self, value: object, type_name: str, path: tuple[str | int, ...]) -> Any:
        if type_name.startswith("Array of "):
            return self._array(value, type_name.removeprefix("Array of "), path)
        scalar = _SCALARS.get(type_name)
        if scalar is not None:
            return scalar(value, path)
        if type_name == "InputFile":
            return self._input_file(value, path)
        object_type = self._spec.types.get(type_name)
        if object_type is None:
            raise _Invalid(path, f"has unsupported type {type_name}")
        return self._object(_json_value(value, path), object_type, path)

    def _array(self, value: object, item_type: str, path: tuple[str | int, ...]) -> list[Any]:
        items = _json_value(value, path)
        if not isinstance(items, list):
            raise _Invalid(path, f"must be an Array of {item_type}")
        return [self.one(item, item_type, (*path, index)) for index, item in enumerate(items)]

    def _input_file(self, value: object, path: tuple[str | int, ...]) -> UploadedFile:
        if isinstance(value, UploadedFile):
            return value
        if isinstance(value, str) and value.startswith(_ATTACH):
            attached = self._files.get(value.removeprefix(_ATTACH))
            if attached is not None:
                return attached
            raise _Invalid(path, f"refers to a missing file part {value!r}")
        raise _Invalid(path, "must be an uploaded file")

    def _object(
        self, value: object, object_type: ObjectType, path: tuple[str | int, ...]
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _Invalid(path, f"must be a {object_type.name} object")
        if object_type.subtypes:
            return self._union(value, object_type, path)
        for key in value:
            if key not in object_type.fields:
                raise _Invalid((*path, key), f"is not a field of {object_type.name}")
        converted: dict[str, Any] = {}
        for field in object_type.fields.values():
            item = value.get(field.name)
            if item is None:
                if field.required:
                    raise _Invalid((*path, field.name), f"is required in {object_type.name}")
                continue
            converted[field.name] = self.any_of(item, field.types, (*path, field.name))
        if object_type.discriminator is not None:
            key, expected = object_type.discriminator
            if converted.get(key) != expected:
                raise _Invalid((*path, key), f"must be {expected!r}")
        return converted

    def _union(
        self, value: dict[str, Any], object_type: ObjectType, path: tuple[str | int, ...]
    ) -> dict[str, Any]:
        candidates = [self._spec.types[name] for name in object_type.subtypes]
        keys = {c.discriminator[0] for c in candidates if c.discriminator is not None}
        if not keys:
            result: dict[str, Any] = self.any_of(value, object_type.subtypes, path)
            return result
        for candidate in candidates:
            if candidate.discriminator is not None:
                key, expected = candidate.discriminator
                if value.get(key) == expected:
                    return self._object(value, candidate, path)
        key = sorted(keys)[0]
        raise _Invalid((*path, key), f"is not a known {object_type.name} {key}")


def _json_value(value: object, path: tuple[str | int, ...]) -> object:
    """Form fields carry objects and arrays as JSON text; JSON bodies carry them directly."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise _Invalid(path, "is not valid JSON") from None


def _integer(value: object, path: tuple[str | int, ...]) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    raise _Invalid(path, "must be Integer")


def _float(value: object, path: tuple[str | int, ...]) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return float(value)
    raise _Invalid(path, "must be Float")


def _boolean(value: object, path: tuple[str | int, ...]) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise _Invalid(path, "must be Boolean")


def _string(value: object, path: tuple[str | int, ...]) -> str:
    if isinstance(value, str):
        return value
    # JSON bodies may carry numbers where strings are declared; Telegram accepts them.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _Invalid(path, "must be String")


_SCALARS = {"Integer": _integer, "Float": _float, "Boolean": _boolean, "String": _string}


def convert_params(
    method: Method,
    raw: Mapping[str, object],
    files: Mapping[str, UploadedFile] | None = None,
) -> dict[str, Any]:
    """Convert raw request values to the declared types; reject unknown, missing and mistyped."""
    files = files or {}
    for name in raw:
        if name not in method.fields:
            raise bad_request(f'unknown parameter "{name}"')
    converter = _Converter(load_spec(), files)
    params: dict[str, Any] = {}
    for field in method.fields.values():
        value = raw.get(field.name)
        if value is None:
            if field.required:
                raise bad_request(f'parameter "{field.name}" is required')
            continue
        try:
            params[field.name] = converter.any_of(value, field.types, (field.name,))
        except _Invalid as invalid:
            raise _rejection(field, invalid) from None
    return params


def _rejection(field: Field, invalid: _Invalid) -> ApiError:
    if len(invalid.path) == 1:
        return bad_request(f'parameter "{field.name}" {invalid.reason}')
    return bad_request(
        f'parameter "{field.name}" is invalid: {_format_path(invalid.path[1:])} {invalid.reason}'
    )
