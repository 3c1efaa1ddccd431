# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Action plugin of tap.ebook_storage.change_review: the review runs on the controller, no module process."""

from __future__ import annotations

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateError
from ansible_collections.tap.ebook_storage.plugins.module_utils.change_review import ARGUMENT_SPEC
from ansible_collections.tap.ebook_storage.plugins.module_utils.change_review import run_review


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # not used: nothing runs on the target
        _validation, params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            params["template_path"] = self._find_needle("files", params["template_path"])
            result.update(run_review(params), changed=False)
        except (AnsibleError, OSError, TemplateError) as e:
            return dict(result, failed=True, msg=f"Could not read the template {params['template_path']}: {e}")
        return result
