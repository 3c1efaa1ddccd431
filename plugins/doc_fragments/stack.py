# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The options of the modules that read a deployed stack and its template.
    DOCUMENTATION = r"""
options:
  stack_name:
    description:
      - Name or id of the CloudFormation stack.
    type: str
    required: true
  template_body:
    description:
      - Template text (YAML or JSON) to use instead of the stack's deployed template.
      - Meant for tests; normally leave it out so that the deployed template is the reference.
    type: str
"""
