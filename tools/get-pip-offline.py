"""Offline stand-in for the get-pip script that ansible-test downloads.

ansible-test bootstraps pip in each of its virtual environments with a
get-pip script fetched from a host that is not reachable from here. It uses a
cached copy first (~/.ansible/test/cache/get_pip_<version>.py);
tools/ansible-sanity.sh puts this file there. It installs pip with the
standard library's ensurepip, then installs the requested packages from the
package index, as get-pip would.
"""

import subprocess
import sys

# get-pip knows these options; pip install does not.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

arguments = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
subprocess.check_call([sys.executable, "-m", "pip", "install", *arguments])
