"""Progress lines, load average, and figures: medians of runs beside a baseline, as a ratio."""

import os
import statistics
import time

_T0 = time.monotonic()
LOAD_SAMPLES = []


def load1():
    return os.getloadavg()[0]


def say(section, text):
    """One progress line per step, with the elapsed time and the 1-minute load average."""
    load = load1()
    LOAD_SAMPLES.append(load)
    print(f"[bench {time.monotonic() - _T0:6.0f}s load {load:4.1f}] {section:<9} {text}", flush=True)


def elapsed():
    return time.monotonic() - _T0


def timed(function, *args, **kwargs):
    """(seconds, result) of one call."""
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def figure(fid, section, label, runs, baseline_label, baseline_runs, unit="s", note="", **extra):
    """A figure: the median of `runs` beside the median of `baseline_runs` and their ratio."""
    value, base = median(runs), median(baseline_runs)
    ratio = value / base if value is not None and base else None
    return {
        "id": fid, "section": section, "label": label, "unit": unit,
        "median": value, "runs": [round(r, 4) for r in runs],
        "baseline": {"label": baseline_label, "median": base, "runs": [round(r, 4) for r in baseline_runs]},
        "ratio": ratio, "note": note, **extra,
    }
