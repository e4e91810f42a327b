"""``grade merge A.json B.json ... --out gradebook.csv``: join the gradebooks of shards.

Each input is the JSON twin of a gradebook written by ``grade batch`` (a ``.csv`` whose
``.json`` twin sits next to it is accepted too). The inputs must grade the same
exercises; a learner may appear in only one of them (shards are disjoint), unless the
records agree: the same learner graded twice (a rerun shard, an overlapping slice) with
the same verdicts is no conflict, even though the wall-clock facts differ (how many
seconds it took, when, and the measured times a timed check's message quotes; see
:func:`verdict`). Different scores, statuses or messages still are. The result is a
gradebook like ``grade batch`` writes: the CSV
and its JSON twin, each written atomically.
"""
from __future__ import annotations

import json
import os

from .batch import VERSION, BatchError, twin_paths, write_gradebook


def read_gradebook(path: str) -> dict:
    json_path = path
    if not path.lower().endswith(".json"):
        json_path = os.path.splitext(path)[0] + ".json"
    try:
        with open(json_path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise BatchError(f"{json_path}: no such file. grade merge joins the JSON gradebooks that grade "
                         f"batch writes next to each CSV.") from None
    except (OSError, ValueError) as e:
        raise BatchError(f"{json_path} could not be read as a gradebook: {e}") from None
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("learners"), list) \
            or not isinstance(data.get("exercises"), list):
        raise BatchError(f"{json_path} is not a gradebook written by grade batch (version {VERSION}).")
    data["path"] = json_path
    return data


# Facts of the clock, not of the verdict: they differ between two gradings of the same work.
WALL_CLOCK = frozenset({"seconds", "elapsed", "duration", "wall_s", "started", "finished", "timestamp",
                        "time", "graded_at"})


def verdict(value):
    """``value`` (a record, or a part of one) without its wall-clock fields: what two
    gradings of the same submission must agree on. A timed check's message quotes the
    measured times, so it is left out too; its verdict (passed, score) stays."""
    if isinstance(value, dict):
        timed = value.get("kind") == "timing"
        return {k: verdict(v) for k, v in value.items()
                if k not in WALL_CLOCK and not (timed and k == "message")}
    if isinstance(value, list):
        return [verdict(v) for v in value]
    return value


def merge(inputs: list[str], out: str) -> dict:
    if not inputs:
        raise BatchError("name the gradebooks to join, e.g. grade merge gradebook-*.json --out gradebook.csv")
    twin_paths(out)
    books = [read_gradebook(p) for p in inputs]
    names = books[0]["exercises"]
    maxima = dict(books[0].get("max_scores") or {})
    for book in books[1:]:
        if book["exercises"] != names:
            raise BatchError(f"{book['path']} grades {', '.join(book['exercises'])} but {books[0]['path']} "
                             f"grades {', '.join(names)}: only gradebooks of the same exercises can be joined.")
    records: dict[str, dict] = {}
    origin: dict[str, str] = {}
    for book in books:
        for record in book["learners"]:
            name = record.get("learner")
            if name in records and verdict(records[name]) != verdict(record):
                raise BatchError(f"{name} is in both {origin[name]} and {book['path']} with different results; "
                                 f"shards must not overlap (grade each with the same N and a different K).")
            records[name] = record
            origin[name] = book["path"]
    write_gradebook(out, list(records.values()), names, maxima)
    return {"learners": len(records), "inputs": len(books), "paths": twin_paths(out)}
