#!/usr/bin/env python3
"""List what a Molecule scenario of tap.ebook_storage could have left behind.

    leftovers.py ENVIRONMENT

Prints one JSON object: for each kind of resource, the names still there that
belong to the stack ebooks-storage-<ENVIRONMENT> or to the scenarios' own
fixtures (names starting with ebook-molecule-, KMS keys tagged
ebook-molecule-scenario, named with the scenario). Every list empty means
nothing is left. KMS keys cannot be deleted at once: a key scheduled for
deletion counts as gone. Endpoint, region and credentials come from the AWS_*
environment variables. The search itself is tests/support/aws.py's, which the
test suites use too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.aws import Clients, resources_left  # noqa: E402

FIXTURE_PREFIX = "ebook-molecule-"
FIXTURE_TAG = "ebook-molecule-scenario"


def main(argv):
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    aws = Clients(None, credentials=False, region=None)
    print(json.dumps(resources_left(aws, argv[0], fixture_prefix=FIXTURE_PREFIX, fixture_tag=FIXTURE_TAG), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
