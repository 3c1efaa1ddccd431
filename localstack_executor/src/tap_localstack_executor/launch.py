"""Start LocalStack in host mode with per-instance S3 storage.

LocalStack's S3 provider keeps object bodies in a folder fixed in its source
(``/tmp/localstack-s3-storage``, one subfolder per bucket name), so every
host-mode LocalStack on a machine shares it: deleting a bucket in one
instance breaks the same bucket name in another (seen: DeleteBucket answering
500 "No such file or directory"). In a container that folder is private; here
it is not. ``TAP_S3_STORAGE_DIR`` moves it into the instance's own state folder
before the runtime starts.

Usage: ``TAP_S3_STORAGE_DIR=/path python -m tap_localstack_executor.launch``
"""

import os
import runpy


def main():
    storage = os.environ.get("TAP_S3_STORAGE_DIR")
    if storage:
        from localstack.services.s3 import provider

        os.makedirs(storage, exist_ok=True)
        provider.DEFAULT_S3_TMP_DIR = storage
    runpy.run_module("localstack.runtime.main", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
