"""What every model shares: the declarative base, UTC datetimes, constraint names."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


def enum_check(name: str, column: str, values: type[enum.StrEnum]) -> CheckConstraint:
    allowed = ", ".join(f"'{value.value}'" for value in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name)


# Column kinds that recur across the tables, declared once. Plain `int`, `bool` and `bytes` need
# no column type: they map to INTEGER, BOOLEAN and a binary column by themselves.
IntPK = Annotated[int, mapped_column(primary_key=True)]
MemberRef = Annotated[int, mapped_column(ForeignKey("members.id"))]
TelegramId = Annotated[int, mapped_column(BigInteger)]  # chat and message ids exceed 32 bits
Sector = Annotated[str, mapped_column(String(40))]
Region = Annotated[str, mapped_column(String(10))]


class YearCounter:
    """A running number per year, behind references such as F-2026-0042."""

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    value: Mapped[int]


class MemberLink:
    """A row linking a member to a parent row (`link` names the parent's key column): the pair is
    the primary key, and an index finds a member's rows; `checks` are the table's further
    constraints."""

    link: ClassVar[str]
    checks: ClassVar[tuple[CheckConstraint, ...]] = ()
    member_id: Mapped[MemberRef]

    @declared_attr.directive
    def __table_args__(cls) -> tuple[PrimaryKeyConstraint | Index | CheckConstraint, ...]:
        table = cls.__tablename__  # type: ignore[attr-defined]
        return (
            PrimaryKeyConstraint(cls.link, "member_id"),
            Index(f"ix_{table}_member_id", "member_id"),
            *cls.checks,
        )
