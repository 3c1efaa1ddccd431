# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Action plugin of tap.ebook_storage.template_parameters: the check runs on the controller."""

from __future__ import annotations

from ansible_collections.tap.ebook_storage.plugins.module_utils.parameter_checks import ARGUMENT_SPEC
from ansible_collections.tap.ebook_storage.plugins.module_utils.parameter_checks import validate
from ansible_collections.tap.ebook_storage.plugins.plugin_utils.template_action import TemplateAction


class ActionModule(TemplateAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def evaluate(self, params):
        ok, outcome = validate(params)
        return outcome if ok else dict(outcome, failed=True)
