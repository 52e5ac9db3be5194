"""Read-only views of database rows (and of parsed options), filled field by field from the
source's attributes of the same name: written once instead of one `x=row.x` line a field."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

V = TypeVar("V", bound="DataclassInstance")


def snapshot(view: type[V], source: object, **given: object) -> V:
    """A `view` dataclass of `source`: the `given` fields as given, every other field copied
    from the attribute of the same name."""
    copied = {f.name: getattr(source, f.name) for f in fields(view) if f.name not in given}
    return view(**copied, **given)
