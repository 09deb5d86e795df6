"""Readers: .txt (seed layout), .jsonl(.gz), .html, .md files, folders and stdin -> Article or IngestProblem."""

from askbot.ingest.html import read_html_document
from askbot.ingest.jsonl import read_jsonl
from askbot.ingest.md import read_markdown_document
from askbot.ingest.paths import read_paths, read_stream
from askbot.ingest.txt import read_text_document

__all__ = [
    "read_html_document",
    "read_jsonl",
    "read_markdown_document",
    "read_paths",
    "read_stream",
    "read_text_document",
]
