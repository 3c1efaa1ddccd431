# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Warnings of a module run."""

from __future__ import annotations

from ansible.module_utils.common import warnings as ansible_warnings


def warn(text):
    """Show *text* as a warning of the task.

    Not module.warn(): AnsibleAWSModule (amazon.aws 11.4) then also passes ``warnings`` to exit_json, which
    ansible-core 2.21 reports as deprecated on every run.
    """
    ansible_warnings.warn(text)
