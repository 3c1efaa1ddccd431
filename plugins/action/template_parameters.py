# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Action plugin of tap.ebook_storage.template_parameters: the check runs on the controller.

The template is a controller file and the check makes no API call, so a module process on the target (about
half a second each here) would only add start-up time to every deploy.
"""

from __future__ import annotations

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.tap.ebook_storage.plugins.module_utils.parameter_checks import ARGUMENT_SPEC
from ansible_collections.tap.ebook_storage.plugins.module_utils.parameter_checks import validate


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # not used: nothing runs on the target
        _validation, params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            params["template_path"] = self._find_needle("files", params["template_path"])
        except AnsibleError as e:
            return dict(result, failed=True, msg=f"Could not read the template {params['template_path']}: {e}")
        ok, outcome = validate(params)
        result.update(outcome, changed=False)
        if not ok:
            result["failed"] = True
        return result
