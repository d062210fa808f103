"""Service layer: the use cases, speech (turn text into segments, run engines, encode audio)
and document-conversion projects."""
