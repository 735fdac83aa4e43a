"""Helpers the benchmark scripts' report steps share (per-run JSON files)."""
import json
import os
import statistics


def runs(out, reps, stem):
    """The parsed JSON of runs 1..reps named OUT/STEM.R.json that exist."""
    got = []
    for r in range(1, reps + 1):
        p = os.path.join(out, f"{stem}.{r}.json")
        if os.path.exists(p):
            with open(p) as f:
                got.append(json.load(f))
    return got


def med(values):
    """Median of the values that are not None, or None."""
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def data(key):
    """An extractor of uturn-load's data.KEY."""
    return lambda j: (j.get("data") or {}).get(key)


def loss_pct(j):
    loss = (j.get("data") or {}).get("loss")
    return None if loss is None else 100.0 * loss
