"""The results: a Markdown table on stdout and in results/latest.md; JSON in results/latest.json and a dated copy."""

import json

from bench import analysis, config


def fmt(seconds):
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.1f} s" if seconds < 100 else f"{seconds:.0f} s"


def _ratio(value):
    return "-" if value is None else (f"{value:.1f}x" if value < 100 else f"{value:.0f}x")


def main_table(figures):
    rows = ["| area | figure | median | baseline | baseline median | ratio | n |", "|---|---|--:|---|--:|--:|--:|"]
    for f in figures:
        n = f"{len(f['runs'])}/{len(f['baseline']['runs'])}"
        rows.append(f"| {f['section']} | {f['label']} | {fmt(f['median'])} | {f['baseline']['label']} | "
                    f"{fmt(f['baseline']['median'])} | {_ratio(f['ratio'])} | {n} |")
    return rows


def breakdown_table(figures):
    cols = [f for f in figures if f.get("breakdown")]
    if not cols:
        return []
    rows = ["| where deploy.yml's time goes (median s) | " + " | ".join(f["id"].split(".")[1] for f in cols)
            + " | share of create |", "|---|" + "--:|" * (len(cols) + 1)]
    first = cols[0]
    total = first["median"] or 1
    for key in first["breakdown"]:
        cells = " | ".join(f"{f['breakdown'][key]:.1f}" for f in cols)
        rows.append(f"| {key} | {cells} | {first['breakdown'][key] / total:.0%} |")
    cells = " | ".join(f"{f['median']:.1f}" for f in cols)
    rows.append(f"| **total (wall)** | {cells} | 100% |")
    return rows


DEPLOY_BEFORE = config.RESULTS / "deploy-before.json"


def deploy_before_after(figures):
    """The deploy figures beside bench/results/deploy-before.json (the role before 1.1.0, same bench)."""
    now = {f["id"]: f for f in figures if f["id"].startswith("deploy.")}
    if not now or not DEPLOY_BEFORE.exists():
        return []
    from bench.ansible_json import regrouped

    recorded = json.loads(DEPLOY_BEFORE.read_text())
    before = {f["id"]: f for f in recorded["figures"] if f["id"] in now}
    ids = [i for i in now if i in before]
    if not ids:
        return []
    rows = [f"| deploy.yml before and after (median s; before: {recorded['started_at']}, commit "
            f"{recorded.get('machine', {}).get('git_commit', '?')[:7]}) | "
            + " | ".join(f"{i.split('.')[1]} before | after" for i in ids) + " |",
            "|---|" + "--:|--:|" * len(ids)]
    old = {i: regrouped(before[i].get("breakdown") or {}) for i in ids}
    for key in now[ids[0]].get("breakdown") or {}:
        rows.append(f"| {key} | " + " | ".join(f"{old[i].get(key, 0.0):.1f} | {now[i]['breakdown'][key]:.1f}"
                                                 for i in ids) + " |")
    rows.append("| **total (wall)** | " + " | ".join(f"{before[i]['median']:.1f} | {now[i]['median']:.1f}"
                                                     for i in ids) + " |")
    rows.append("| module processes | " + " | ".join(f"{before[i].get('module_runs') or '-'} | "
                                                     f"{now[i].get('module_runs') or '-'}" for i in ids) + " |")
    return rows


def monitor_table(figures):
    if not figures:
        return []
    rows = ["| objects | monitor (invoke) | in Lambda | requests (list pages / HEADs) | objects/s | "
            "bare list | bare per page | bare objects/s | ratio |", "|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for f in figures:
        req = f["requests"]
        rows.append(f"| {f['objects']:,} | {fmt(f['median'])} | {fmt(f['in_lambda_ms'] / 1000)} | "
                    f"{f['requests_total']:,} ({req.get('ListObjectVersions', 0)} / {req.get('HeadObject', 0):,}) | "
                    f"{f['objects_per_s']:,.0f} | {fmt(f['baseline']['median'])} | "
                    f"{fmt(f['baseline']['median'] / max(1, f['bare_pages']))} | {f['bare_objects_per_s']:,.0f} | "
                    f"{_ratio(f['ratio'])} |")
    return rows


def projection_lines(p):
    if not p:
        return []
    s3 = ", ".join(f"{ms} ms/page -> {v['total_s']:.0f} s ({'fits' if v['fits'] else 'does not fit'})"
                   for ms, v in p["s3"].items())
    return [
        f"3 years x {config.DAILY_UPLOADS:,}/day = {p['objects']:,} objects = {p['pages']:,} ListObjectVersions "
        f"pages (measured pages per object) + {p['heads_per_day']:,} HEADs (one day's new objects).",
        f"LocalStack model: {p['fixed_s']:.1f} s fixed + {p['t_page_s'] * 1000:.0f} ms/page ({p['t_page_method']}) "
        f"+ {p['t_head_s'] * 1000:.1f} ms/HEAD -> listing {p['localstack_listing_s']:.0f} s, total "
        f"{p['localstack_s']:.0f} s: {'fits' if p['localstack_fits'] else 'does NOT fit'} (listing budget "
        f"{p['listing_budget_s']} s = {config.LAMBDA_TIMEOUT_S} s timeout - {config.MONITOR_LIST_RESERVE_S} s "
        "reserve).",
        f"On S3 (assumed page latency): {s3}. It fits only below {p['s3_max_page_ms_that_fits']:.0f} ms per page; "
        f"at 100 ms/page one run lists about {p['s3_objects_that_fit_at_100ms']:,} objects.",
    ]


def inventory_lines(d):
    """The three-year inventory read, its projection to Lambda memory sizes, the listing beside it."""
    if not d:
        return []
    a, listing, advice = d["assumptions"], d["listing"], d["recommendation"]
    t = d["totals"]
    lines = [
        f"S3 Inventory at three years: {d['rows']:,} versions in {d['files']} gzip CSV files "
        f"({d['gz_bytes'] / 1e6:,.0f} MB, {d['rows_per_file']:,} rows a file), read by the monitor's own "
        f"newest_inventory() + read_inventory() (Python {d['python']}, fresh process, median of the runs): "
        f"**{d['cpu_s']:.1f} CPU s** (+ {d['setup_cpu_s']:.1f} s imports and clients), peak **{d['peak_mb']:.0f} MB** "
        f"RSS. Its totals equal the generator's: {t['objects']:,} objects, {t['noncurrent']:,} noncurrent, "
        f"{t['delete_markers']:,} delete markers, {t['not_kms']:,} not SSE-KMS, {t['bytes'] / 1e12:,.1f} TB.", "",
        f"| Lambda memory | vCPU share | read CPU | set-up | S3 GETs | projected run | fits {a['timeout_s']} s with "
        f"a third to spare | versions that fit so | peak + runtime vs memory | listing fallback |",
        "|--:|--:|--:|--:|--:|--:|:-:|--:|--:|--:|"]
    for r in d["projection"]:
        lines.append(
            f"| {r['memory_mb']:,} MB | {r['vcpu_share']:.2f} | {fmt(r['cpu_stretched_s'])} | {fmt(r['setup_s'])} | "
            f"{fmt(r['transfer_s'])} | **{fmt(r['total_s'])}** | {'yes' if r['fits_with_spare'] else 'NO'} "
            f"({r['spare_share']:.0%} spare) | {r['versions_fitting'] / 1e6:.1f} M | "
            f"{r['peak_mb']:.0f} of {r['memory_mb']:,} MB | "
            f"{fmt(r['listing_s'])} ({'fits' if r['listing_fits'] else 'does not fit'}) |")
    lines += [
        "",
        f"Projection: Lambda gives CPU in proportion to memory, {a['full_vcpu_mb']:,} MB = one vCPU (AWS Lambda "
        "Developer Guide, \"Configuring Lambda function memory\"); the read runs on one thread, so at M MB its CPU "
        f"seconds take x max(1, {a['full_vcpu_mb']:,}/M) (vCPU share min(1, M/{a['full_vcpu_mb']:,})), one core of "
        f"this machine counted as one vCPU. Assumed: S3 GET {a['get_mb_s']} MB/s and {a['get_first_byte_s'] * 1000:.0f}"
        f" ms a file, not overlapped with the CPU; {a['other_calls_s']:.0f} s for the run's other calls; "
        f"{a['lambda_runtime_mb']} MB of runtime beside the Python process.",
        f"Listing fallback beside it: {listing['pages']:,} ListObjectVersions pages; botocore parses a 1,000-version "
        f"page in {listing['cpu_per_page_s'] * 1000:.0f} CPU ms here, plus {a['list_page_ms']} ms S3 latency a "
        "page (column above; it must end within the timeout minus the monitor's 60 s reserve).",
    ]
    if listing.get("recorded_s3"):
        lines.append(f"The monitor phase's projection ({listing['recorded_from']}), latency only: " + ", ".join(
            f"{ms} ms/page -> {v['total_s']:.0f} s" for ms, v in listing["recorded_s3"].items())
            + f"; it fits only below {listing['recorded_max_page_ms']:.0f} ms a page.")
    if advice.get("memory_mb"):
        lines.append(f"**Recommendation: MemorySize {advice['memory_mb']} MB, Timeout {advice['timeout_s']} s** "
                     f"({advice['why']}; the read alone would need a timeout of {advice['minimum_timeout_s']} s "
                     "to keep a third spare).")
    else:
        lines.append(f"**Recommendation: {advice['why']}**")
    return lines


NOTES = [
    "Every figure is the median of its runs (n = runs/baseline runs), beside a baseline timed in the same run;"
    " the machine is shared and noisy, so read the ratios, not the absolute times.",
    "LocalStack: the bench's own, host mode, on :4680 (start-ups on :4681); one bench process talks to it.",
    "Deploy: bare create = reset (delete stack and retained buckets), create_stack, describe_stacks every 0.5 s;"
    " deploy.yml = the whole role: validation (on the controller), pre-flight with the stack state, "
    "amazon.aws.cloudformation, post_deploy (parity, outputs, verification).",
    "Setup warm = make deploy's steps with everything installed and LocalStack up (setup-environments.sh,"
    " playbooks/localstack.yml, deploy.yml unchanged). Setup cold (--full or --cold) = git clone of the committed"
    " tree, setup with PIP_NO_CACHE_DIR=1, LocalStack start on :4682, deploy.yml create.",
    "Monitor: objects are tiny and all new, so the monitor HEADs min(objects, 6,000 cap) of them; a real day"
    " has 3,000 new objects. LocalStack's time per ListObjectVersions page grows with the bucket (see 'bare per"
    " page'); S3's does not: project S3 from the request count, not from LocalStack's time.",
    "Upload: synthetic but valid PDF/EPUB/MOBI files of 10-200 KB (real e-books are about 50x larger).",
]


def analysis_lines(found):
    lines = []
    if start := found.get("deploy_module_startup"):
        lines.append(f"deploy.yml create runs {start['module_runs']} Ansible modules, each a new process; counting "
                     f"each up to {fmt(start['seconds_per_module_run'])} (the run's own pre-flight task: start-up "
                     f"and five calls) gives {fmt(start['estimated_s'])} of module start-up, "
                     f"{start['share_of_create']:.0%} of the create. amazon.aws.cloudformation also sleeps 5 s "
                     "before its second poll.")
    if top := found.get("deploy_create_largest_task_group"):
        lines.append(f"Largest task group of the create: {top['name']}, {fmt(top['seconds'])} ({top['share']:.0%}).")
    if shares := found.get("monitor_beyond_listing_share"):
        lines.append("Monitor time beyond one bare listing (mostly HEADs of new objects): "
                     + ", ".join(f"{int(k):,} objects {v:.0%}" for k, v in shares.items()) + ".")
    return lines


# The figures of each phase (by id prefix), and what else of a run belongs to it, for the carry-over.
PHASE_FIGURES = {"startup": ("localstack.",), "deploy": ("deploy.", "setup.warm"), "verify": ("verify.",),
                 "lambda": ("lambda.",), "monitor": ("monitor.",), "upload": ("upload.",),
                 "inventory": ("inventory.",), "cold": ("setup.cold",), "maketest": ("make_test.",)}
PHASE_EXTRA = {"monitor": "monitor_projection", "inventory": "inventory"}


def carried_over(results):
    """The newest recorded figures of each phase that this run did not run (or that failed in it), from the
    dated result files, so that latest.md and latest.json keep every phase's figures."""
    ran = {p for p, prefixes in PHASE_FIGURES.items() if any(f["id"].startswith(prefixes) for f in results["figures"])}
    out = {}
    for path in sorted(config.RESULTS.glob("2*.json"), reverse=True):
        old = json.loads(path.read_text())
        if old.get("started_at") == results["started_at"]:
            continue
        for phase in old.get("phases", []):
            if phase in ran or phase in out or phase not in PHASE_FIGURES:
                continue
            figures = [f for f in old.get("figures", []) if f and f["id"].startswith(PHASE_FIGURES[phase])]
            if figures:
                run = f"{old['started_at'][:10]} --{old['mode']}"
                out[phase] = {"from": old["started_at"], "mode": old["mode"], "file": path.name,
                              "figures": [{**f, "carried_from": run} for f in figures],
                              "extra": old.get(PHASE_EXTRA.get(phase))}
    return out


def render(results, carried=None):
    meta = results["machine"]
    carried = carried or {}
    order = list(PHASE_FIGURES)
    figures = results["figures"] + [f for p in sorted(carried, key=order.index) for f in carried[p]["figures"]]
    figures = [{**f, "label": f"{f['label']} [{f['carried_from']}]"} if f.get("carried_from") else f
               for f in figures]
    extra = {key: results.get(key) or (carried.get(phase) or {}).get("extra") for phase, key in PHASE_EXTRA.items()}
    lines = [f"bench/run --{results['mode']}: {results['started_at']}, {results['duration_s']:.0f} s, "
             f"{meta['cpus']} CPUs, load average (1 min) {meta['load_start']:.1f} at start, "
             f"{meta['load_min']:.1f}-{meta['load_max']:.1f} during, {meta['load_end']:.1f} at end", ""]
    if carried:
        lines += ["Phases not run this time keep their newest recorded figures, marked [date --mode]: "
                  + ", ".join(f"{p} ({c['from']}, {c['file']})" for p, c in sorted(carried.items(),
                                                                                   key=lambda i: order.index(i[0])))
                  + ".", ""]
    cold = next((f for f in figures if f["id"] == "setup.cold"), None)
    sections = [
        main_table(figures),
        breakdown_table([f for f in figures if f["id"].startswith("deploy.")]),
        deploy_before_after(figures),
        ["Cold setup steps (median s): " + ", ".join(f"{k} {v:.0f}" for k, v in cold["steps"].items())] if cold else [],
        monitor_table([f for f in figures if f["id"].startswith("monitor.")]),
        projection_lines(extra["monitor_projection"]),
        inventory_lines(extra["inventory"]),
        analysis_lines(analysis.derive(figures) if carried else results.get("analysis") or {}),
        [f"- {note}" for note in NOTES],
    ]
    for section in sections:
        lines += section + [""] if section else []
    if results["errors"]:
        lines += ["", "ERRORS:"] + [f"- {e}" for e in results["errors"]]
    return "\n".join(lines).rstrip() + "\n"


def write(results):
    config.RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = results["started_at"].replace(":", "").replace("-", "")
    dated = config.RESULTS / f"{stamp}-{results['mode']}.json"
    carried = carried_over(results)
    dated.write_text(json.dumps(results, indent=1, default=str) + "\n")
    latest = {**results, "carried": carried} if carried else results
    (config.RESULTS / "latest.json").write_text(json.dumps(latest, indent=1, default=str) + "\n")
    text = render(results, carried)
    (config.RESULTS / "latest.md").write_text(text)
    return text, dated
