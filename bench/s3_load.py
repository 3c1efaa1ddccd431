"""Fill a bucket fast: parallel put_object of tiny bodies straight to S3 on LocalStack."""

import time
from concurrent.futures import ThreadPoolExecutor

from bench import aws, measure

PREFIX = "load/"
FORMATS = ("pdf", "pdf", "epub", "epub", "mobi")  # the monitor counts by extension only
BODY = b"synthetic e-book placeholder for the monitor benchmark\n"
THREADS = 32
PROGRESS_EVERY = 20_000


def key(i):
    # About as long as a real key (publisher/series/title), spread over 100 "folders".
    return f"{PREFIX}{i % 100:02d}/synthetic-title-{i:07d}.{FORMATS[i % len(FORMATS)]}"


def fill(port, bucket, start, stop):
    """Put objects start..stop-1 (a progress line every 20,000); returns objects per second."""
    s3 = aws.client("s3", port, pool=THREADS + 4)
    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        for done, _ in enumerate(pool.map(lambda i: s3.put_object(Bucket=bucket, Key=key(i), Body=BODY),
                                          range(start, stop)), start + 1):
            if done % PROGRESS_EVERY == 0 and done < stop:
                measure.say("Monitor", f"  {done:,} objects loaded")
    return (stop - start) / (time.perf_counter() - started)
