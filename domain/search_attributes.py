"""Custom search attributes: registered with the dev server and docker-compose from this list."""

from datetime import datetime
from typing import Any, Final

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

TENANT: Final = SearchAttributeKey.for_keyword("KeeptimeTenant")
ENTITY: Final = SearchAttributeKey.for_keyword("KeeptimeEntity")
STATUS: Final = SearchAttributeKey.for_keyword("KeeptimeStatus")
STARTS_AT: Final = SearchAttributeKey.for_datetime("KeeptimeStartsAt")
DUE_AT: Final = SearchAttributeKey.for_datetime("KeeptimeDueAt")  # when the workflow next acts

ALL_SEARCH_ATTRIBUTES: Final = (TENANT, ENTITY, STATUS, STARTS_AT, DUE_AT)

_CLI_TYPE_NAMES: Final = {
    "KEYWORD": "Keyword",
    "DATETIME": "Datetime",
    "TEXT": "Text",
    "INT": "Int",
    "DOUBLE": "Double",
    "BOOL": "Bool",
    "KEYWORD_LIST": "KeywordList",
}


def cli_declarations() -> list[str]:
    """``Name=Type`` pairs as ``temporal server start-dev --search-attribute`` expects them."""
    return [
        f"{key.name}={_CLI_TYPE_NAMES[key.indexed_value_type.name.removeprefix('INDEXED_VALUE_TYPE_')]}"
        for key in ALL_SEARCH_ATTRIBUTES
    ]


def entity_attributes(
    business_id: int, entity: str, status: str, starts_at: datetime | None = None
) -> TypedSearchAttributes:
    """What a per-entity workflow starts with, so the Web UI can find it by tenant, kind and status."""
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(TENANT, str(business_id)),
        SearchAttributePair(ENTITY, entity),
        SearchAttributePair(STATUS, status),
    ]
    if starts_at is not None:
        pairs.append(SearchAttributePair(STARTS_AT, starts_at))
    return TypedSearchAttributes(pairs)
