"""A day's e-books through playbooks/upload.yml (ebook_upload) against bare boto3 put_object, same concurrency;
and a re-run (everything skipped) against bare head_object of the same keys."""

import time
from concurrent.futures import ThreadPoolExecutor

from bench import ansible_json, aws, config, ebook_files, measure, procs
from tests.support.aws import describe_stack, purge_bucket, stack_outputs

SECTION = "Upload"
PREFIX = "bench-upload"
CONTENT_TYPES = {".pdf": "application/pdf", ".epub": "application/epub+zip",
                 ".mobi": "application/x-mobipocket-ebook"}


def _playbook(port, folder, prefix, name):
    cmd = ["ansible-playbook", "playbooks/upload.yml", "-i", "inventories/dev",
           "-e", f"ebook_upload_src={folder}", "-e", f"ebook_upload_prefix={prefix}"]
    seconds, stdout = procs.run(cmd, name, env=procs.ansible_env(aws.endpoint(port)))
    task = ansible_json.result_of(stdout, "ebook_upload")
    return seconds, task["seconds"], task["result"]["summary"]


def _bare_put(s3, folder, prefix, key_arn):
    paths = ebook_files.files(folder)

    def put(path):
        with open(path, "rb") as body:
            s3.put_object(Bucket=config.BUCKET, Key=f"{prefix}/{path.relative_to(folder)}", Body=body,
                          ContentType=CONTENT_TYPES[path.suffix], ServerSideEncryption="aws:kms",
                          SSEKMSKeyId=key_arn)

    started = time.perf_counter()
    with ThreadPoolExecutor(config.UPLOAD_CONCURRENCY) as pool:
        for _ in pool.map(put, paths):
            pass
    return time.perf_counter() - started


def _bare_head(s3, folder, prefix):
    keys = [f"{prefix}/{p.relative_to(folder)}" for p in ebook_files.files(folder)]
    started = time.perf_counter()
    with ThreadPoolExecutor(config.UPLOAD_CONCURRENCY) as pool:
        for _ in pool.map(lambda k: s3.head_object(Bucket=config.BUCKET, Key=k), keys):
            pass
    return time.perf_counter() - started


def upload(mode, port):
    folder, size = ebook_files.make_day(mode.upload_files)
    measure.say(SECTION, f"{mode.upload_files:,} synthetic e-books, {size / 1e6:.0f} MB, in {folder.name}")
    key_arn = stack_outputs(describe_stack(aws.client("cloudformation", port), config.STACK))["EncryptionKeyArn"]
    s3 = aws.client("s3", port, pool=config.UPLOAD_CONCURRENCY + 4)
    purge_bucket(s3, config.BUCKET, prefix=f"{PREFIX}/", delete_bucket=False)
    walls, modules, bare, reruns, rerun_modules, rerun_bare = [], [], [], [], [], []
    for i in range(mode.upload_runs):
        wall, module_s, summary = _playbook(port, folder, f"{PREFIX}/ansible-{i + 1}", f"upload-{i + 1}")
        if summary["uploaded"] != mode.upload_files:
            raise RuntimeError(f"upload.yml uploaded {summary['uploaded']} of {mode.upload_files}")
        walls.append(wall)
        modules.append(module_s)
        bare.append(_bare_put(s3, folder, f"{PREFIX}/bare-{i + 1}", key_arn))
        measure.say(SECTION, f"{i + 1}/{mode.upload_runs}: upload.yml {wall:.1f} s (module {module_s:.1f} s); "
                    f"bare put_object x{config.UPLOAD_CONCURRENCY} {bare[-1]:.1f} s")
        wall, module_s, summary = _playbook(port, folder, f"{PREFIX}/ansible-1", f"upload-rerun-{i + 1}")
        if summary["skipped"] != mode.upload_files:
            raise RuntimeError(f"the re-run skipped {summary['skipped']} of {mode.upload_files}")
        reruns.append(wall)
        rerun_modules.append(module_s)
        rerun_bare.append(_bare_head(s3, folder, f"{PREFIX}/ansible-1"))
        measure.say(SECTION, f"{i + 1}/{mode.upload_runs}: re-run (all skipped) {wall:.1f} s "
                    f"(module {module_s:.1f} s); bare head_object x{config.UPLOAD_CONCURRENCY} {rerun_bare[-1]:.1f} s")
        purge_bucket(s3, config.BUCKET, prefix=f"{PREFIX}/bare-{i + 1}/", delete_bucket=False)  # bodies pile up
    purge_bucket(s3, config.BUCKET, prefix=f"{PREFIX}/", delete_bucket=False)
    files_per_s = mode.upload_files / measure.median(walls)
    return (
        measure.figure("upload.day", SECTION, f"{mode.upload_files:,} e-books via playbooks/upload.yml", walls,
                       f"bare put_object, {config.UPLOAD_CONCURRENCY} threads, SSE-KMS", bare,
                       module_seconds=measure.median(modules), files_per_s=files_per_s, bytes=size,
                       note=f"{MIN_MAX_NOTE}; module run {measure.median(modules):.1f} s of the playbook"),
        measure.figure("upload.rerun", SECTION, "re-run, all skipped (sha256 unchanged)", reruns,
                       f"bare head_object, {config.UPLOAD_CONCURRENCY} threads", rerun_bare,
                       module_seconds=measure.median(rerun_modules)),
    )


MIN_MAX_NOTE = f"sizes {ebook_files.MIN_KB}-{ebook_files.MAX_KB} KB (scaled down about 50x for LocalStack)"
