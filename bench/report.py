"""The results: a Markdown table on stdout and in results/latest.md; JSON in results/latest.json and a dated copy."""

import json
import shutil

from bench import config


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


def render(results):
    meta = results["machine"]
    figures = results["figures"]
    lines = [f"bench/run --{results['mode']}: {results['started_at']}, {results['duration_s']:.0f} s, "
             f"{meta['cpus']} CPUs, load average (1 min) {meta['load_start']:.1f} at start, "
             f"{meta['load_min']:.1f}-{meta['load_max']:.1f} during, {meta['load_end']:.1f} at end", ""]
    cold = next((f for f in figures if f["id"] == "setup.cold"), None)
    sections = [
        main_table(figures),
        breakdown_table([f for f in figures if f["id"].startswith("deploy.")]),
        deploy_before_after(figures),
        ["Cold setup steps (median s): " + ", ".join(f"{k} {v:.0f}" for k, v in cold["steps"].items())] if cold else [],
        monitor_table([f for f in figures if f["id"].startswith("monitor.")]),
        projection_lines(results.get("monitor_projection")),
        analysis_lines(results.get("analysis") or {}),
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
    dated.write_text(json.dumps(results, indent=1, default=str) + "\n")
    shutil.copyfile(dated, config.RESULTS / "latest.json")
    text = render(results)
    (config.RESULTS / "latest.md").write_text(text)
    return text, dated
