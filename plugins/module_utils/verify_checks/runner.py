# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Build the list of checks for a stack, select some, run them, and summarise."""

from __future__ import annotations

import fnmatch

from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AWS_ERRORS
from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import error_summary
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateResolutionError
from ansible_collections.tap.ebook_storage.plugins.module_utils.module_warnings import warn
from ansible_collections.tap.ebook_storage.plugins.module_utils.policy_documents import PolicyParseError
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks import bucket
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks import bucket_policy
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks import events
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks import functional
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks import iam
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks import kms
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks import lambda_function
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks import sns
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import FAILED
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import PASSED
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import SKIPPED
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import Check
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import Context
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import bad
from ansible_collections.tap.ebook_storage.plugins.module_utils.verify_checks.base import ok

AREAS = (bucket, bucket_policy, kms, iam, lambda_function, events, sns, functional)

GOOD_STACK_STATES = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")


class PlanError(Exception):
    pass


def _stack_status(ctx):
    def run():
        status = ctx.model.status
        if status not in GOOD_STACK_STATES:
            return bad(list(GOOD_STACK_STATES), status, f"the stack is {status}")
        return ok(list(GOOD_STACK_STATES), status, f"the stack is {status}")

    return run


def build_plan(ctx):
    """Every check that applies to this stack, in a stable order."""
    plan = [Check("stack.status", ctx.model.stack_id, _stack_status(ctx))]
    for area in AREAS:
        plan.extend(area.checks(ctx))
    if not ctx.parts.data_bucket:
        raise PlanError(
            "cannot find the data bucket in the template (no EbooksBucketName output and no single AWS::S3::Bucket)"
        )
    return plan


def _matches(pattern, check_id):
    return check_id == pattern or check_id.startswith(pattern + ".") or fnmatch.fnmatchcase(check_id, pattern)


def select(plan, wanted, skipped, functional):
    """Decide for each check whether it runs; returns ({id: reason to skip}, unmatched patterns)."""
    reasons = {}
    unmatched = []
    for pattern in wanted or []:
        if not any(_matches(pattern, c.id) for c in plan):
            unmatched.append(pattern)
    for pattern in skipped or []:
        if not any(_matches(pattern, c.id) for c in plan):
            unmatched.append(pattern)
    for check in plan:
        if wanted and not any(_matches(p, check.id) for p in wanted):
            reasons[check.id] = "not selected"
        elif any(_matches(p, check.id) for p in skipped or []):
            reasons[check.id] = "skipped on request"
        elif check.functional and not functional:
            reasons[check.id] = "functional checks run only with functional=true"
    return reasons, unmatched


def run_check(check):
    try:
        result = check.run()
    except AWS_ERRORS as e:
        summary = error_summary(e)
        result = bad(
            None, summary, f"{summary['operation'] or 'AWS call'} failed: {summary['error']}: {summary['message']}"
        )
    except TemplateResolutionError as e:
        result = bad(None, None, f"template value cannot be resolved: {e}")
    except PolicyParseError as e:
        result = bad(None, None, f"policy cannot be parsed: {e}")
    except Exception as e:  # pylint: disable=broad-except
        result = bad(None, None, f"check raised {type(e).__name__}: {e}")
    return dict({"id": check.id, "resource": check.resource}, **result)


def run(plan, reasons):
    results = []
    for check in plan:
        if check.id in reasons:
            results.append(
                {
                    "id": check.id,
                    "resource": check.resource,
                    "status": SKIPPED,
                    "expected": None,
                    "observed": None,
                    "message": reasons[check.id],
                }
            )
        else:
            results.append(run_check(check))
    return results


def summarise(results):
    summary = {PASSED: 0, FAILED: 0, SKIPPED: 0}
    for result in results:
        summary[result["status"]] += 1
    summary["total"] = len(results)
    return summary


def verify_stack(module, session, model, functional, checks=None, skip=()):
    """Plan, select, run: {checks, summary, failed_checks}. The storage_verify and post_deploy modules' step.

    Unknown check patterns are warned about; a selection that matches nothing fails the module. Raises
    PlanError when the template has no data bucket. Functional checks write, so check mode skips them.
    """
    ctx = Context(session, model, functional=functional)
    plan = build_plan(ctx)
    reasons, unmatched = select(plan, checks, skip, functional and not module.check_mode)
    for pattern in unmatched:
        warn(f"no check matches {pattern!r}")
    if checks and all(reasons.get(c.id) == "not selected" for c in plan):
        module.fail_json(
            msg=f"none of the checks {checks} exists for stack {model.name}",
            available_checks=[c.id for c in plan],
            api_calls=session.api_calls(),
        )
    results = run(plan, reasons)
    return {
        "checks": results,
        "summary": summarise(results),
        "failed_checks": [r["id"] for r in results if r["status"] == FAILED],
    }
