"""Filters spelled as the index spells them: a source or category matched whatever its case and spaces, or refused
with the list of those the index holds (the CLI, the library and every other face read them the same way)."""

from __future__ import annotations

from dataclasses import replace

from askbot.types import Filters

PLURALS = {"source": "sources", "category": "categories"}  # as StoreReader.facets() keys them


class UnknownFacet(ValueError):
    """A source or category that no article of the index has; the message lists those it has, with counts."""


def key(value: str) -> str:
    """How a source or category is compared with the index's: case and spaces do not count."""
    return "".join(value.casefold().split())


def spelled_as_indexed(name: str, wanted: str | None, facets: dict[str, object]) -> str | None:
    """``wanted`` (a ``name``: "source" or "category") as the index spells it; UnknownFacet when none matches."""
    if wanted is None:
        return None
    known: dict[str, int] = facets.get(PLURALS[name], {})  # type: ignore[assignment]
    for value in known:
        if value and key(value) == key(wanted):
            return value
    listed = ", ".join(f"{value} ({n})" for value, n in known.items() if value) or "none"
    raise UnknownFacet(f"no articles with {name} {wanted!r} in this index; its {PLURALS[name]}: {listed}")


def spelled(filters: Filters, facets: dict[str, object]) -> Filters:
    """``filters`` with its source and category as the index spells them (``facets``: ``StoreReader.facets()``)."""
    return replace(
        filters,
        source=spelled_as_indexed("source", filters.source, facets),
        category=spelled_as_indexed("category", filters.category, facets),
    )
