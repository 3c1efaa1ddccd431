"""The monitor's S3 Inventory reading at three years (3,285,000 versions), projected to Lambda memory sizes.

Measured: files/lambda/storage_monitor.py's newest_inventory() + read_inventory() over a report written as
S3 writes it (bench/inventory_data.py), in a fresh process each run (bench/inventory_probe.py), with the
Lambda runtime's Python (.venvs/lambda-python3.11) when it is there; baseline: gzip + csv.reader of the same
files. Projected: Lambda gives a function CPU in proportion to its memory, 1,769 MB = one vCPU (AWS Lambda
Developer Guide, "Configuring Lambda function memory"), and the monitor runs on one thread, so its CPU
seconds at M MB take CPU x max(1, 1769 / M) seconds; to that come the GETs of the gzip files at an assumed
throughput and the run's other calls. Beside it, the listing fallback at the same size.
"""

import json
import math
import subprocess
import sys

from bench import config, inventory_data, measure

SECTION = "Inventory"
FULL_VCPU_MB = 1769  # memory at which a function has the equivalent of one vCPU
MEMORY_SIZES = (256, 512, 1024, FULL_VCPU_MB)
TIMEOUT_S = config.LAMBDA_TIMEOUT_S
SPARE = 1 / 3  # issue 15: finish with at least a third of the timeout to spare
# Assumptions (stated in the report): S3 GET from Lambda, one stream
GET_MB_S = 50  # MB/s of one GetObject stream
GET_FIRST_BYTE_S = 0.05  # per GET
OTHER_CALLS_S = 3.0  # the daily run's other calls: KMS, 5 bucket settings, inventory folder list, manifest,
#                     GetMetricData, SNS publish (about 12 requests at up to 250 ms)
LIST_PAGE_MS = 100  # S3 latency of one ListObjectVersions page, as in the monitor phase's middle case
LAMBDA_RUNTIME_MB = 40  # what the runtime adds to the function's memory beside the Python process (assumed)


def _python():
    return str(config.LAMBDA_PYTHON if config.LAMBDA_PYTHON.exists() else sys.executable)


def _probe(mode, data):
    out = subprocess.run(
        [_python(), "-m", "bench.inventory_probe", mode, data["root"], data["source_bucket"],
         data["destination_bucket"]], cwd=config.ROOT, capture_output=True, text=True, timeout=900, check=False)
    log = config.SCRATCH / "logs" / f"inventory-{mode}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as f:
        f.write(out.stdout + out.stderr)
    if out.returncode:
        raise RuntimeError(f"inventory probe {mode} failed ({out.returncode}): {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _verify(result, truth):
    """The monitor's totals against the generator's: any difference fails the phase."""
    n = result["n"]
    want = {k: truth.get(k, 0) for k in ("pdf", "epub", "mobi", "pdf_bytes", "epub_bytes", "mobi_bytes", "nc",
                                         "nc_bytes", "dm")}
    want.update(other=0, other_bytes=0)
    got = {k: n.get(k, 0) for k in want}
    wrong = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    if result["not_kms"] != truth.get("not_kms", 0):
        wrong["not_kms"] = (result["not_kms"], truth.get("not_kms", 0))
    if list(result["largest"]) != list(truth["largest"]):
        wrong["largest"] = (result["largest"], truth["largest"])
    if wrong:
        raise RuntimeError("the monitor's inventory totals differ from the generator's (got, expected): "
                           + "; ".join(f"{k} {g!r} != {w!r}" for k, (g, w) in wrong.items()))
    return {"objects": sum(got[f] for f in ("pdf", "epub", "mobi", "other")), "noncurrent": got["nc"],
            "delete_markers": got["dm"], "not_kms": result["not_kms"],
            "bytes": sum(got[f + "_bytes"] for f in ("pdf", "epub", "mobi", "other")) + got["nc_bytes"]}


def _listing_recorded(current):
    """The monitor phase's three-year listing projection: this run's, else the newest recorded one."""
    if current:
        return current, "this run"
    for path in sorted(config.RESULTS.glob("2*.json"), reverse=True):
        found = json.loads(path.read_text())
        if found.get("monitor_projection"):
            return found["monitor_projection"], f"{found['started_at']} --{found['mode']}"
    return None, None


def project(cpu_s, setup_cpu_s, gz_bytes, files, peak_mb, listing_cpu_page_s, pages, rows_read):
    """Seconds at each memory size: CPU stretched by the vCPU share, plus transfer and the other calls."""
    transfer = gz_bytes / 1e6 / GET_MB_S + files * GET_FIRST_BYTE_S
    rows = []
    for mb in MEMORY_SIZES:
        stretch = max(1.0, FULL_VCPU_MB / mb)
        total = (cpu_s + setup_cpu_s) * stretch + transfer + OTHER_CALLS_S
        listing = pages * (listing_cpu_page_s * stretch + LIST_PAGE_MS / 1000) + OTHER_CALLS_S
        # versions that still end with a third spare, the per-row cost (CPU and bytes) scaled linearly
        per_row = (cpu_s * stretch + gz_bytes / 1e6 / GET_MB_S) / rows_read
        room = TIMEOUT_S * (1 - SPARE) - setup_cpu_s * stretch - OTHER_CALLS_S - files * GET_FIRST_BYTE_S
        rows.append({"memory_mb": mb, "vcpu_share": min(1.0, mb / FULL_VCPU_MB), "cpu_stretched_s": cpu_s * stretch,
                     "setup_s": setup_cpu_s * stretch, "transfer_s": transfer, "total_s": total,
                     "fits_with_spare": total <= TIMEOUT_S * (1 - SPARE), "spare_share": 1 - total / TIMEOUT_S,
                     "peak_mb": peak_mb + LAMBDA_RUNTIME_MB, "memory_fits": peak_mb + LAMBDA_RUNTIME_MB <= mb * 0.8,
                     "listing_s": listing, "listing_fits": listing <= TIMEOUT_S - config.MONITOR_LIST_RESERVE_S,
                     "versions_fitting": int(room / per_row)})
    return rows


def recommend(rows):
    """The smallest size that fits the timeout with a third to spare and keeps 20% of its memory free;
    the timeout stays at the template's 300 s when that size needs no more."""
    ok = [r for r in rows if r["fits_with_spare"] and r["memory_fits"]]
    if not ok:
        return {"memory_mb": None, "timeout_s": None, "why": "no size fits: read the inventory in parts"}
    best = ok[0]
    # timeout: the projection with a third to spare, rounded up to 30 s, never below 60 s nor above the template's
    need = max(60, min(TIMEOUT_S, math.ceil(best["total_s"] / (1 - SPARE) / 30) * 30))
    return {"memory_mb": best["memory_mb"], "timeout_s": TIMEOUT_S, "minimum_timeout_s": need,
            "projected_s": best["total_s"],
            "why": f"{best['memory_mb']} MB is the smallest size at which the three-year read ({best['total_s']:.0f} s "
                   f"projected) leaves {best['spare_share']:.0%} of {TIMEOUT_S} s and its peak "
                   f"({best['peak_mb']:.0f} MB with the runtime) stays under 80% of the memory"}


def inventory(mode, monitor_projection=None):
    measure.say(SECTION, f"three years: {inventory_data.ROWS:,} versions as an S3 Inventory report "
                f"({inventory_data.ROWS_PER_FILE:,} rows a data file)")
    data = inventory_data.ensure()
    measure.say(SECTION, ("cached" if data["cached"] else f"generated in {data['generate_s']:.0f} s")
                + f": {data['files']} gzip CSV files, {data['gz_bytes'] / 1e6:,.0f} MB, {data['rows']:,} rows")
    runs, bare = [], []
    for i in range(mode.runs):
        runs.append(_probe("monitor", data))
        bare.append(_probe("bare", data))
        r = runs[-1]
        measure.say(SECTION, f"run {i + 1}/{mode.runs} ({r['python']}): monitor {r['wall_s']:.1f} s wall, "
                    f"{r['cpu_s']:.1f} CPU s, peak {r['rss_peak_mb']:.0f} MB; bare gzip+csv {bare[-1]['wall_s']:.1f} s")
    checked = _verify(runs[-1]["result"], data["truth"])
    measure.say(SECTION, f"totals match the generator: {checked['objects']:,} objects, {checked['noncurrent']:,} "
                f"noncurrent, {checked['delete_markers']:,} delete markers, {checked['not_kms']:,} not SSE-KMS")
    listing = _probe("listing", data)
    cpu_page = listing["cpu_s"] / listing["result"]["pages"]
    recorded, recorded_from = _listing_recorded(monitor_projection)
    pages = recorded["pages"] if recorded else math.ceil(inventory_data.ROWS / 1000)
    cpu, setup = measure.median([r["cpu_s"] for r in runs]), measure.median([r["setup_cpu_s"] for r in runs])
    peak = max(r["rss_peak_mb"] for r in runs)
    rows = project(cpu, setup, data["gz_bytes"], data["files"], peak, cpu_page, pages, data["rows"])
    advice = recommend(rows)
    measure.say(SECTION, f"recommendation: {advice['memory_mb']} MB, timeout {advice['timeout_s']} s")
    figure = measure.figure(
        "inventory.read", SECTION, f"monitor reads a {inventory_data.ROWS:,}-version inventory (fresh process)",
        [r["wall_s"] for r in runs], "bare gzip + csv.reader of the same files", [b["wall_s"] for b in bare],
        cpu_s=cpu, cpu_runs=[round(r["cpu_s"], 3) for r in runs], setup_cpu_s=setup, peak_mb=peak,
        setup_peak_mb=measure.median([r["rss_setup_mb"] for r in runs]), python=runs[-1]["python"],
        bare_cpu_s=measure.median([b["cpu_s"] for b in bare]), rows=data["rows"], files=data["files"],
        gz_bytes=data["gz_bytes"], rows_per_cpu_s=data["rows"] / cpu)
    details = {
        "rows": data["rows"], "files": data["files"], "gz_bytes": data["gz_bytes"], "rows_per_file":
        inventory_data.ROWS_PER_FILE, "generated_s": data["generate_s"], "cached": data["cached"], "totals": checked,
        "cpu_s": cpu, "setup_cpu_s": setup, "peak_mb": peak, "python": runs[-1]["python"],
        "assumptions": {"full_vcpu_mb": FULL_VCPU_MB, "get_mb_s": GET_MB_S, "get_first_byte_s": GET_FIRST_BYTE_S,
                        "other_calls_s": OTHER_CALLS_S, "list_page_ms": LIST_PAGE_MS,
                        "lambda_runtime_mb": LAMBDA_RUNTIME_MB, "timeout_s": TIMEOUT_S, "spare": SPARE},
        "projection": rows, "recommendation": advice,
        "listing": {"cpu_per_page_s": cpu_page, "pages": pages, "recorded_from": recorded_from,
                    "recorded_s3": recorded and recorded["s3"],
                    "recorded_max_page_ms": recorded and recorded["s3_max_page_ms_that_fits"]}}
    return figure, details
