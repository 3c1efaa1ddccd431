"""The monitor at 1k/10k(/100k) objects against a bare paginated ListObjectVersions of the same bucket."""

import time
from concurrent.futures import ThreadPoolExecutor

from bench import aws, config, measure, s3_load
from tests.support.aws import invoke, purge_bucket

SECTION = "Monitor"


def _invoke(lam):
    started = time.perf_counter()
    answer, report = invoke(lam, config.MONITOR_FUNCTION, {"source": "bench"})
    seconds = time.perf_counter() - started
    if answer.get("FunctionError"):
        raise RuntimeError(f"the monitor failed: {report}")
    return seconds, report


def _bare_list(s3):
    started, versions, pages = time.perf_counter(), 0, 0
    for page in s3.get_paginator("list_object_versions").paginate(
            Bucket=config.BUCKET, PaginationConfig={"PageSize": 1000}):
        pages += 1
        versions += len(page.get("Versions", []))
    return time.perf_counter() - started, versions, pages


def _bare_heads(s3, count):
    """HeadObject on `count` loaded objects, 16 in parallel as the monitor does: seconds per object."""
    keys = [s3_load.key(i) for i in range(count)]
    started = time.perf_counter()
    with ThreadPoolExecutor(config.MONITOR_HEAD_WORKERS) as pool:
        for _ in pool.map(lambda k: s3.head_object(Bucket=config.BUCKET, Key=k), keys):
            pass
    return (time.perf_counter() - started) / count


def monitor(mode, port):
    lam = aws.client("lambda", port, read_timeout=900, attempts=1)  # an invoke is never retried
    s3 = aws.client("s3", port, pool=config.MONITOR_HEAD_WORKERS + 4)
    purge_bucket(s3, config.BUCKET, prefix=s3_load.PREFIX, delete_bucket=False)
    figures, loaded, per_head, load_rates = [], 0, None, {}
    for n, size in enumerate(mode.monitor_sizes):
        measure.say(SECTION, f"loading {size - loaded:,} objects (to {size:,})")
        load_rates[size] = s3_load.fill(port, config.BUCKET, loaded, size)
        loaded = size
        measure.say(SECTION, f"loaded {size:,} objects, {load_rates[size]:,.0f} puts/s")
        if n == 0:
            warmup_s, _ = _invoke(lam)  # a warm worker for every timed run
            per_head = measure.median([_bare_heads(s3, min(size, 1000)) for _ in range(max(1, mode.runs - 2))])
            measure.say(SECTION, f"warm-up invoke {warmup_s:.1f} s; bare HeadObject x16 threads "
                        f"{per_head * 1000:.2f} ms per object")
        runs = mode.runs if size <= 1_000 else mode.heavy_runs
        walls, reports, bare, bare_pages = [], [], [], 0
        for i in range(runs):
            wall, report = _invoke(lam)
            walls.append(wall)
            reports.append(report)
            b_s, versions, bare_pages = _bare_list(s3)
            bare.append(b_s)
            req = report["requests"]
            measure.say(SECTION, f"{size:,} objects {i + 1}/{runs}: monitor {wall:.1f} s "
                        f"({sum(req.values()):,} requests: {req.get('ListObjectVersions', 0)} list pages, "
                        f"{req.get('HeadObject', 0):,} heads); bare list {b_s:.2f} s ({versions:,} versions)")
        last = reports[-1]
        figures.append(measure.figure(
            f"monitor.{size}", SECTION, f"monitor at {size:,} objects (invoke, warm)", walls,
            "bare paginated ListObjectVersions (1,000 a page)", bare,
            objects=last["objects"]["total"], requests=last["requests"], requests_total=sum(last["requests"].values()),
            in_lambda_ms=measure.median([r["duration_ms"] for r in reports]), bare_pages=bare_pages,
            objects_per_s=size / measure.median(walls), bare_objects_per_s=size / measure.median(bare),
            load_puts_per_s=load_rates[size]))
    return figures, per_head
