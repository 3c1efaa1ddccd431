"""Makes the repository root importable, so that every suite can ``from tests.support.aws import ...``.

``tests`` is a package (``tests/__init__.py``), so pytest imports this file as ``tests.conftest`` and already
puts the repository root on ``sys.path`` for it; the lines below say so explicitly. The suites' own folders
(``tests/integration``...) stay plain folders: their conftests keep importing ``itest_support`` and the like.
Scripts run outside pytest put the root on ``sys.path`` themselves (see tests/support/README.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPOSITORY_ROOT = str(Path(__file__).resolve().parent.parent)
if REPOSITORY_ROOT not in sys.path:
    sys.path.insert(0, REPOSITORY_ROOT)


# Which LocalStack each test file uses. The files of one group run on one xdist worker, in order, and the
# groups run at the same time (``--dist loadgroup``, see below): each group has a LocalStack of its own, so no
# group waits for another's stacks. A file of no group (the unit tests) is scheduled test by test.
GROUP_OF_FILE = {
    "tests/executor/": "executor",  # starts and stops its own LocalStack (:4610)
    # LOCALSTACK_ENDPOINT too, but only its own randomly named bucket, key and role: beside the group below.
    "tests/integration/upload_restore/": "integration-upload-restore",
    "tests/integration/": "integration",  # LOCALSTACK_ENDPOINT, started by tools/run-tests.sh
    "tests/reliability/test_localstack_faults.py": "reliability-faults",  # kills its own LocalStack (:4571)
    # its own LocalStack (RELIABILITY_DRIFT_PORT, default RELIABILITY_DEPLOY_PORT + 10)
    "tests/reliability/test_drift_repair.py": "reliability-drift",
    "tests/reliability/": "reliability-deploys",  # its own LocalStack (:4572)
}


def group_of(nodeid):
    """The group of a test: the first prefix of GROUP_OF_FILE that its path starts with."""
    path = nodeid.split("::", 1)[0]
    for prefix, group in GROUP_OF_FILE.items():
        if path.startswith(prefix):
            return group
    return nodeid


@pytest.hookimpl(optionalhook=True)  # the hook exists only when pytest-xdist is installed
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup``: the files of each group of GROUP_OF_FILE run on one worker, in order.

    Not ``xdist_group`` marks: pytest-xdist 3.8 cannot apply them under pytest 9 (it sets ``item._nodeid``, which
    pytest 9 no longer reads).
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByLocalStack(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return group_of(nodeid)

    return ByLocalStack(config, log)
