# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The action plugins that read the stack template on the controller and make no API call.

The template is a controller file, so a module process on the target (about half a second each here) would
only add start-up time to every deploy. Each plugin names its argument spec and what it does with the
validated parameters; finding the template (role ``files/``, playbook directory) and the message when it
cannot be read are the same for all.
"""

from __future__ import annotations

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateError


class TemplateAction(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    ARGUMENT_SPEC = {}

    def evaluate(self, params):
        """The task's result for validated ``params`` whose ``template_path`` is found; ``failed`` when it fails."""
        raise NotImplementedError

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # not used: nothing runs on the target
        _validation, params = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        try:
            params["template_path"] = self._find_needle("files", params["template_path"])
            result.update(self.evaluate(params), changed=False)
        except (AnsibleError, OSError, TemplateError) as e:
            return dict(result, failed=True, msg=f"Could not read the template {params['template_path']}: {e}")
        return result
