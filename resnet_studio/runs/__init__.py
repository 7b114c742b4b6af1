"""Runs on disk, without the engine: run folders (files, the writer's lock, resources/FORMATS.md),
`metrics.jsonl`'s records, summaries of runs for the Runs list and the exports, runs followed while
another process writes them, and what a comparison of runs says.

The engine (`training/`) writes run folders through `RunDirectory`; the studio and the command line
read them through this package alone, without torch (a config.json records torch's version: only
writing one imports it).
"""
