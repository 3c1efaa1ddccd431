# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What every check shares: the check record, result helpers and the run context."""

from __future__ import annotations

from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateResolutionError
from ansible_collections.tap.ebook_storage.plugins.module_utils.kms_keys import KeyResolver
from ansible_collections.tap.ebook_storage.plugins.module_utils.stack_resources import StackParts

PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"


class Check:
    """One check: its id, the resource it looks at, and a function returning a result dict."""

    def __init__(self, check_id, resource, run, functional=False):
        self.id = check_id
        self.resource = resource
        self.run = run
        self.functional = functional


def ok(expected=None, observed=None, message="as declared"):
    return {"status": PASSED, "expected": expected, "observed": observed, "message": message}


def bad(expected=None, observed=None, message="differs from the template"):
    return {"status": FAILED, "expected": expected, "observed": observed, "message": message}


def skip(message, expected=None, observed=None):
    return {"status": SKIPPED, "expected": expected, "observed": observed, "message": message}


def compare(expected, observed, what):
    if expected == observed:
        return ok(expected, observed, f"{what} is as declared")
    return bad(expected, observed, f"{what} is {observed!r}, the template declares {expected!r}")


def tags_subset(declared, live, what):
    """Template tags must all be present with their values among the live tags."""
    missing = {k: v for k, v in (declared or {}).items() if (live or {}).get(k) != v}
    if missing:
        return bad(declared, live, f"{what} lacks the declared tags {sorted(missing)}")
    return ok(declared, live, f"{what} carries every declared tag")


def declared_tags(props):
    return {t["Key"]: str(t.get("Value", "")) for t in (props or {}).get("Tags") or []}


class Context:
    """Everything the checks need: AWS session, the stack model and its parts, options."""

    def __init__(self, session, model, functional=False):
        self.session = session
        self.model = model
        self.parts = StackParts(model)
        self.functional = functional
        self.keys = KeyResolver(session, model.region, model.account_id, model.partition)

    def arn(self, logical_id):
        """ARN of a resource of the stack, or its physical id when no ARN can be built."""
        if not logical_id:
            return None
        rtype = self.model.resource_type(logical_id)
        attribute = "TopicArn" if rtype == "AWS::SNS::Topic" else "Arn"
        try:
            return self.model.resolver.resolve({"Fn::GetAtt": [logical_id, attribute]}, f"Resources.{logical_id}")
        except TemplateResolutionError:
            return self.model.physical_id(logical_id) or logical_id

    def declared_data_key(self):
        """The key the template declares for the data bucket's default encryption (as written there)."""
        lid = self.parts.data_bucket
        config = self.model.resolve_at(lid, "BucketEncryption") or {}
        for rule in config.get("ServerSideEncryptionConfiguration") or []:
            key = (rule.get("ServerSideEncryptionByDefault") or {}).get("KMSMasterKeyID")
            if key:
                return key
        return None
