# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Action plugin of tap.ebook_storage.change_review: the review runs on the controller, no module process."""

from __future__ import annotations

from ansible_collections.tap.ebook_storage.plugins.module_utils.change_review import ARGUMENT_SPEC
from ansible_collections.tap.ebook_storage.plugins.module_utils.change_review import run_review
from ansible_collections.tap.ebook_storage.plugins.plugin_utils.template_action import TemplateAction


class ActionModule(TemplateAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def evaluate(self, params):
        return run_review(params)
