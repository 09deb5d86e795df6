"""SentencePiece ``precompiled_charsmap`` (a darts-clone double-array trie) from a per-code-point replacement map."""

from __future__ import annotations

import struct
from collections.abc import Mapping

_LEAF = -1  # key in a trie node that holds the node's value
_HAS_LEAF = 1 << 8
_IS_VALUE = 1 << 31
_MAX_OFFSET = 1 << 21  # offsets below this fit a unit without the extension bit
_Node = dict[int, "_Node | int"]


def precompiled_charsmap(mapping: Mapping[int, str]) -> bytes:
    """Encode ``mapping`` (code point -> replacement) the way ``tokenizers.normalizers.Precompiled`` reads it.

    Layout: u32 trie size in bytes, the trie units (u32 little-endian), then the NUL-terminated replacements.
    """
    replacements = bytearray()
    where: dict[str, int] = {}
    keys: list[tuple[bytes, int]] = []
    for code_point in sorted(mapping):
        text = mapping[code_point]
        if text not in where:
            where[text] = len(replacements)
            replacements += text.encode("utf-8") + b"\0"
        keys.append((chr(code_point).encode("utf-8"), where[text]))
    units = _double_array(keys)
    return struct.pack(f"<I{len(units)}I", 4 * len(units), *units) + bytes(replacements)


def _trie(keys: list[tuple[bytes, int]]) -> _Node:
    root: _Node = {}
    for key, value in keys:
        node = root
        for byte in key:
            node = node.setdefault(byte, {})  # type: ignore[assignment]
        node[_LEAF] = value
    return root


def _double_array(keys: list[tuple[bytes, int]]) -> list[int]:
    """Place every trie node so that child ``c`` of a node with base ``b`` sits at ``b ^ c`` (bases are unique)."""
    units: dict[int, int] = {0: 0}
    used = bytearray(b"\x01")  # used[p] == 1 once unit p is taken
    bases: set[int] = set()
    stack: list[tuple[_Node, int]] = [(_trie(keys), 0)]
    while stack:
        node, pos = stack.pop()
        labels = sorted(k for k in node if k != _LEAF)
        slots = ([0] if _LEAF in node else []) + labels
        base = _find_base(slots, pos, used, bases)
        bases.add(base)
        offset = pos ^ base
        if offset >= _MAX_OFFSET:
            raise ValueError("normalization map too large for a compact double array")
        units[pos] |= offset << 10 | (_HAS_LEAF if _LEAF in node else 0)
        if _LEAF in node:
            units[base] = _IS_VALUE | node[_LEAF]  # type: ignore[operator]
        for label in labels:
            units[base ^ label] = label
            stack.append((node[label], base ^ label))  # type: ignore[arg-type]
        top = max(base ^ s for s in slots)
        if top >= len(used):
            used.extend(bytes(top + 1 - len(used)))
        for s in slots:
            used[base ^ s] = 1
    size = (max(bases) | 0xFF) + 1  # every base ^ byte probe stays inside the array
    return [units.get(i, 0) for i in range(size)]


def _find_base(slots: list[int], pos: int, used: bytearray, bases: set[int]) -> int:
    """The first unused base whose slots are all free, trying free positions for the first slot in order."""
    end = len(used)
    candidate = used.find(0)
    while True:
        base = candidate ^ slots[0]
        if base != pos and base not in bases and all((base ^ s) >= end or not used[base ^ s] for s in slots):
            return base
        following = used.find(0, candidate + 1)
        candidate = following if following >= 0 else max(candidate + 1, end)
