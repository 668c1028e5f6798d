"""Passes: each a small function Graph -> Graph, run in one order by codegen/pipeline.py."""
