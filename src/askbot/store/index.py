"""The local store (segments under a folder): its reader (askbot.store.local_reader) and its one writer
(askbot.store.local_writer), under the name the factory, the tests and the benchmarks import."""

from askbot.store.live_segments import MAX_SEGMENTS
from askbot.store.local_reader import IndexReader
from askbot.store.local_writer import IndexWriter
from askbot.store.segment import file_digest

__all__ = ["MAX_SEGMENTS", "IndexReader", "IndexWriter", "file_digest"]
