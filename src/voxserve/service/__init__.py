"""Service layer: resolve names, turn text into segments, run engines, encode audio."""
