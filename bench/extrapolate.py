"""Project the monitor to three years of uploads: t = fixed + pages x t_page + heads x t_head.

Pages come from the measured ListObjectVersions request count per object; heads are one day's uploads
(the monitor HEADs only objects of the last 24 h). LocalStack's per-page time is measured; S3's is assumed.
"""

import math

from bench import config

S3_PAGE_MS = (50, 100, 200)  # assumed S3 latency of one full 1,000-entry ListObjectVersions page
S3_HEAD_MS = 30  # assumed S3 HeadObject latency (16 in parallel)


def _per_page(figures):
    """LocalStack seconds per page: marginal between the two largest sizes when their HEAD counts are equal
    (the 6,000 cap), else the bare listing's time per page at the largest size."""
    big = figures[-1]
    bare = big["baseline"]["median"] / max(1, big["bare_pages"])
    if len(figures) >= 2:
        small = figures[-2]
        pages = big["requests"].get("ListObjectVersions", 0) - small["requests"].get("ListObjectVersions", 0)
        same_heads = big["requests"].get("HeadObject") == small["requests"].get("HeadObject")
        if same_heads and pages > 0:
            marginal = (big["in_lambda_ms"] - small["in_lambda_ms"]) / 1000 / pages
            if marginal > 0:
                return marginal, "marginal in-Lambda time per page between the two largest sizes", bare
    return bare, "bare ListObjectVersions time per page at the largest size", bare


def project(figures, per_head):
    figures = sorted(figures, key=lambda f: f["objects"])
    big = figures[-1]
    t_page, how, bare_page = _per_page(figures)
    t_head = per_head
    small = figures[0]
    fixed = max(0.0, small["in_lambda_ms"] / 1000 - small["requests"].get("ListObjectVersions", 0) * t_page
                - small["requests"].get("HeadObject", 0) * t_head)
    objects = config.DAILY_UPLOADS * 365 * config.YEARS
    pages = math.ceil(objects * big["requests"].get("ListObjectVersions", 1) / max(1, big["objects"]))
    heads = config.DAILY_UPLOADS
    budget = config.LAMBDA_TIMEOUT_S - config.MONITOR_LIST_RESERVE_S
    model = [{"objects": f["objects"], "measured_s": f["in_lambda_ms"] / 1000,
              "model_s": fixed + f["requests"].get("ListObjectVersions", 0) * t_page
              + f["requests"].get("HeadObject", 0) * t_head} for f in figures]
    localstack_listing_s = fixed + pages * t_page
    localstack_s = localstack_listing_s + heads * t_head
    s3 = {}
    for page_ms in S3_PAGE_MS:
        listing = 1.0 + pages * page_ms / 1000
        total = listing + heads * S3_HEAD_MS / 1000 / config.MONITOR_HEAD_WORKERS
        fits = listing <= budget and total <= config.LAMBDA_TIMEOUT_S
        s3[page_ms] = {"listing_s": listing, "total_s": total, "fits": fits}
    return {
        "objects": objects, "pages": pages, "heads_per_day": heads,
        "t_page_s": t_page, "t_page_method": how, "bare_t_page_s": bare_page, "t_head_s": t_head, "fixed_s": fixed,
        "model_check": model,
        "localstack_s": localstack_s, "localstack_listing_s": localstack_listing_s,
        "localstack_fits": localstack_listing_s <= budget and localstack_s <= config.LAMBDA_TIMEOUT_S,
        "listing_budget_s": budget, "s3": s3,
        "s3_max_page_ms_that_fits": (budget - 1.0) / pages * 1000,
        "s3_objects_that_fit_at_100ms": int((budget - 1.0) / 0.1 * big["objects"]
                                           / max(1, big["requests"].get("ListObjectVersions", 1))),
    }
