# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Decide one request against AWS policy documents, with AWS's documented evaluation rules.

LocalStack enforces no bucket, key or IAM policy, so what the template's policies allow and deny is
proved by evaluating them here (tests/unit/policy/policy_table.yml). Pure Python, no AWS call.

What is implemented, and where AWS documents it:

- Evaluation logic (IAM User Guide, "Policy evaluation logic",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html, and
  "Cross-account policy evaluation logic", .../reference_policies_evaluation-logic-cross-account.html):
  an explicit Deny in any policy wins; otherwise, within one account, an Allow in the principal's
  identity policies OR in the resource policy (naming the principal itself) allows; across accounts
  both must allow; an anonymous request can only be allowed by a resource policy that allows ``*``;
  a service principal only by a resource policy that names the service. A resource policy that names
  an account (``arn:...:root`` or the account id) delegates to that account's IAM policies.
- KMS (Developer Guide, "Determining access to AWS KMS keys",
  https://docs.aws.amazon.com/kms/latest/developerguide/determining-access.html): the key policy is
  required. It allows a principal directly, or names the principal's account, which lets that
  account's IAM policies allow (both must then allow). An explicit Deny in either wins.
- Role trust policies (IAM User Guide, "Policy evaluation logic", where role trust policies and KMS
  key policies are the exceptions that must explicitly allow the principal, and STS API Reference,
  "AssumeRole"): the trust policy is required, like a key policy. In the role's account, a trust
  policy that names the principal's ARN is enough; one that names the account (``:root``) needs an
  identity policy of the principal that allows ``sts:AssumeRole`` as well. From another account the
  principal's identity policy must allow too. A trust policy has no ``Resource`` element (IAM
  refuses one): the resource is the role. The root user cannot assume a role.
- Assumed-role sessions (IAM User Guide, "AWS global condition context keys", aws:PrincipalArn, and
  "AWS JSON policy elements: Principal", role sessions): a session's ``aws:PrincipalArn`` is the ARN
  of its role, its identity policies are the role's, and a resource policy that names the role (or
  the session's own ARN) names the session.
- Conditions (IAM User Guide, "Condition operators",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html,
  and "Condition with multiple context keys or values",
  .../reference_policies_condition-logic-multiple-context-keys-or-values.html): operators AND
  together, keys under one operator AND together, the values of one key OR together (NOR for the
  negated operators). A key missing from the request makes a condition false, except for negated
  operators (true), ``...IfExists`` (true) and ``Null``. ``ForAnyValue:`` is false and
  ``ForAllValues:`` true for a missing multi-valued key.
- Operators: StringEquals, StringNotEquals, StringLike, StringNotLike, ArnEquals, ArnNotEquals,
  ArnLike, ArnNotLike, NumericLessThan, Bool (each also as ``...IfExists``), Null, and
  ``ForAnyValue:``/``ForAllValues:`` with StringEquals and StringLike on multi-valued keys.
  Wildcards ``*`` and ``?`` in Action (case-insensitive), Resource and the ARN and Like operators
  (case-sensitive); ARNs are compared per colon-separated component, so a wildcard never spans one.
- Condition keys: those of ``CONDITION_KEYS`` (what files/TapStack.yml uses); callers may pass more.

Not modelled: service control and resource control policies, permissions boundaries, session
policies, VPC endpoint policies, ACLs (the buckets have ``BucketOwnerEnforced``), KMS grants, key
state, NotPrincipal/NotAction/NotResource, policy variables, role chaining limits, external ids and
session tags of an AssumeRole. Anything not implemented raises
``PolicyEvaluationError``: a request this module cannot decide is never reported as decided.
"""

from __future__ import annotations

import re

ALLOW = "Allow"
DENY = "Deny"

# Condition keys this evaluator knows, lowercased (condition key names are case-insensitive), with
# their type: "string", "arn", "numeric", "bool", or "multi" (multi-valued string key).
CONDITION_KEYS = {
    "aws:securetransport": "bool",
    "aws:principalarn": "arn",
    "aws:principalaccount": "string",
    "aws:sourcearn": "arn",
    "aws:sourceaccount": "string",
    "s3:tlsversion": "numeric",
    "s3:x-amz-server-side-encryption": "string",
    "s3:x-amz-server-side-encryption-aws-kms-key-id": "string",
    "s3:x-amz-server-side-encryption-customer-algorithm": "string",
    "kms:viaservice": "string",
    "kms:calleraccount": "string",
    "kms:resourcealiases": "multi",
    "kms:encryptioncontext:aws:logs:arn": "arn",
    "kms:encryptioncontext:aws:s3:arn": "arn",
    "cloudwatch:namespace": "string",
}

_BASE_OPERATORS = {
    # name: (kinds of key it applies to, negated)
    "StringEquals": (("string", "multi"), False),
    "StringNotEquals": (("string",), True),
    "StringLike": (("string", "multi"), False),
    "StringNotLike": (("string",), True),
    "ArnEquals": (("arn",), False),
    "ArnLike": (("arn",), False),
    "ArnNotEquals": (("arn",), True),
    "ArnNotLike": (("arn",), True),
    "NumericLessThan": (("numeric",), False),
    "Bool": (("bool",), False),
}
_STATEMENT_ELEMENTS = {"Sid", "Effect", "Principal", "Action", "Resource", "Condition"}
_ARN_PARTS = 6


class PolicyEvaluationError(Exception):
    """The policy or the request uses something this evaluator does not implement."""


class Principal:
    """Who sends the request.

    ``kind``: "iam" (a role or user, by its ARN; a role's session may also be evaluated as its role),
    "session" (an assumed-role session, by its ARN ``arn:aws:sts::<account>:assumed-role/<role>/<name>``;
    ``role_arn`` names its role when the role has a path), "root" (the account's root user),
    "service" (an AWS service principal such as logging.s3.amazonaws.com) or "anonymous".
    """

    def __init__(self, kind, arn=None, account=None, service=None, role_arn=None):
        if kind not in ("iam", "session", "root", "service", "anonymous"):
            raise PolicyEvaluationError(f"principal kind {kind!r} is not implemented")
        if kind in ("iam", "root"):
            parts = (arn or "").split(":", _ARN_PARTS - 1)
            if len(parts) != _ARN_PARTS or parts[2] != "iam" or not parts[4]:
                raise PolicyEvaluationError(f"{kind} principal needs an IAM ARN, got {arn!r}")
            account = parts[4]
            if (kind == "root") != (parts[5] == "root"):
                raise PolicyEvaluationError(f"{arn} is not a {kind} principal")
        if kind == "session":
            match = re.fullmatch(r"arn:([^:]+):sts::(\d{12}):assumed-role/([^/]+)/([^/]+)", arn or "")
            if not match:
                raise PolicyEvaluationError(f"a session needs an assumed-role ARN, got {arn!r}")
            partition, account, role = match.group(1), match.group(2), match.group(3)
            role_arn = role_arn or f"arn:{partition}:iam::{account}:role/{role}"
            if not re.fullmatch(rf"arn:{re.escape(partition)}:iam::{account}:role/(.+/)?{re.escape(role)}", role_arn):
                raise PolicyEvaluationError(f"{role_arn} is not the role of the session {arn}")
        if kind == "service" and not service:
            raise PolicyEvaluationError("a service principal needs its service name")
        self.kind = kind
        self.arn = arn
        self.account = account
        self.service = service
        self.role_arn = role_arn if kind == "session" else None

    def global_keys(self):
        """The global condition keys AWS sets for this principal (aws:PrincipalArn, aws:PrincipalAccount).

        For a session, aws:PrincipalArn is the ARN of its role.
        """
        if self.kind in ("iam", "root"):
            return {"aws:PrincipalArn": self.arn, "aws:PrincipalAccount": self.account}
        if self.kind == "session":
            return {"aws:PrincipalArn": self.role_arn, "aws:PrincipalAccount": self.account}
        return {}

    def __repr__(self):
        return f"Principal({self.kind}, {self.arn or self.service or ''})"


class Request:
    """One request: principal, IAM action (``s3:GetObject``), resource ARN and its condition keys.

    ``context`` holds the keys the request carries (a key that is absent is simply not there); the
    principal's own global keys are added. Multi-valued keys take a list.
    """

    def __init__(self, principal, action, resource, context=None, keys=None):
        self.principal = principal
        self.action = action
        self.resource = resource
        self.keys = _key_types(keys)
        merged = dict(principal.global_keys())
        merged.update(context or {})
        self.context = {}
        for name, value in merged.items():
            kind = _key_type(name, self.keys)
            if kind == "multi":
                if not isinstance(value, (list, tuple)):
                    raise PolicyEvaluationError(f"{name} is multi-valued: give a list")
                self.context[name.lower()] = [str(v) for v in value]
            else:
                if isinstance(value, (list, tuple, dict)) or value is None:
                    raise PolicyEvaluationError(f"{name} is single-valued, got {value!r}")
                self.context[name.lower()] = _scalar(value)


class Decision:
    """``effect`` Allow or Deny; ``reason`` "explicit-deny", "allow" or "implicit-deny"; ``by`` the
    statements that decided it, as "<policy name>:<Sid>"."""

    def __init__(self, effect, reason, by=()):
        self.effect = effect
        self.reason = reason
        self.by = list(by)

    @property
    def explicit_deny(self):
        return self.reason == "explicit-deny"

    def __repr__(self):
        return f"Decision({self.effect}, {self.reason}, {self.by})"


# -- documents ---------------------------------------------------------------------------------


def statements(document):
    found = document.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def validate(document, name, resource_policy, keys=None, trust=False):
    """Raise PolicyEvaluationError when the document uses anything this evaluator does not implement.

    ``trust``: a role trust policy (a resource policy without Resource, for sts: actions only).
    """
    types = _key_types(keys)
    if not isinstance(document, dict) or set(document) - {"Version", "Id", "Statement"}:
        raise PolicyEvaluationError(f"{name}: not a policy document with Version/Id/Statement only")
    for index, statement in enumerate(statements(document)):
        where = f"{name}: statement {statement.get('Sid', index)}"
        unknown = set(statement) - _STATEMENT_ELEMENTS
        if unknown:
            raise PolicyEvaluationError(f"{where}: element(s) {sorted(unknown)} are not implemented")
        if statement.get("Effect") not in (ALLOW, DENY):
            raise PolicyEvaluationError(f"{where}: Effect must be Allow or Deny")
        if trust:
            if "Action" not in statement or "Resource" in statement:
                raise PolicyEvaluationError(f"{where}: a trust policy statement needs Action and has no Resource")
            if not all(a.lower().startswith("sts:") for a in _strings(statement["Action"])):
                raise PolicyEvaluationError(f"{where}: a trust policy allows sts: actions only")
        elif "Action" not in statement or "Resource" not in statement:
            raise PolicyEvaluationError(f"{where}: needs Action and Resource")
        if resource_policy and "Principal" not in statement:
            raise PolicyEvaluationError(f"{where}: a resource policy statement needs a Principal")
        if not resource_policy and "Principal" in statement:
            raise PolicyEvaluationError(f"{where}: an identity policy has no Principal")
        if "Principal" in statement:
            _principal_entries(statement["Principal"], where)
        for value in _strings(statement["Action"]) + _strings(statement.get("Resource", [])):
            _no_variables(value, where)
        for operator, block in (statement.get("Condition") or {}).items():
            _operator(operator, where)
            if not isinstance(block, dict) or not block:
                raise PolicyEvaluationError(f"{where}: {operator} needs a mapping of keys to values")
            for key, values in block.items():
                _check_condition(operator, key, values, types, where)


def _check_condition(operator, key, values, types, where):
    set_op, base, if_exists = _operator(operator, where)
    kind = _key_type(key, types, where)
    for value in _strings(values):
        _no_variables(value, where)
    if base == "Null":
        if set_op or if_exists or any(v.lower() not in ("true", "false") for v in _strings(values)):
            raise PolicyEvaluationError(f"{where}: Null takes true or false only")
        return
    kinds, _negated = _BASE_OPERATORS[base]
    if kind == "multi":
        if not set_op:
            raise PolicyEvaluationError(f"{where}: multi-valued {key} needs ForAnyValue:/ForAllValues:")
        if base not in ("StringEquals", "StringLike") or if_exists:
            raise PolicyEvaluationError(f"{where}: {operator} on {key} is not implemented")
        return
    if set_op:
        raise PolicyEvaluationError(f"{where}: {set_op} on the single-valued key {key} is not implemented")
    if kind not in kinds:
        raise PolicyEvaluationError(f"{where}: {base} does not apply to the {kind} key {key}")
    if base.startswith("Arn"):
        for value in _strings(values):
            if len(value.split(":", _ARN_PARTS - 1)) != _ARN_PARTS:
                raise PolicyEvaluationError(f"{where}: {value!r} is not an ARN ({base})")
    if base == "NumericLessThan":
        for value in _strings(values):
            _number(value, where)
    if base == "Bool" and any(v.lower() not in ("true", "false") for v in _strings(values)):
        raise PolicyEvaluationError(f"{where}: Bool takes true or false")


def _operator(operator, where):
    """(set operator or None, base operator, IfExists) of a condition operator; raises if not implemented."""
    set_op = None
    name = operator
    for prefix in ("ForAnyValue:", "ForAllValues:"):
        if name.startswith(prefix):
            set_op, name = prefix[:-1], name[len(prefix) :]
    if_exists = name.endswith("IfExists")
    if if_exists:
        name = name[: -len("IfExists")]
    if name == "Null" and not if_exists:
        return set_op, name, False
    if name not in _BASE_OPERATORS:
        raise PolicyEvaluationError(f"{where}: condition operator {operator} is not implemented")
    return set_op, name, if_exists


def _principal_entries(principal, where):
    """[(kind, value)] of a Principal element: ("any", "*"), ("aws", arn-or-account), ("service", name)."""
    if principal == "*":
        return [("any", "*")]
    if not isinstance(principal, dict):
        raise PolicyEvaluationError(f"{where}: Principal {principal!r} is not implemented")
    entries = []
    for kind, values in principal.items():
        if kind not in ("AWS", "Service"):
            raise PolicyEvaluationError(f"{where}: Principal type {kind} is not implemented")
        for value in _strings(values):
            _no_variables(value, where)
            if kind == "Service":
                entries.append(("service", value))
            elif value == "*":
                entries.append(("any", "*"))
            elif re.fullmatch(r"\d{12}", value) or (value.startswith("arn:") and value.endswith(":root")):
                entries.append(("account", value if value.isdigit() else value.split(":")[4]))
            elif re.fullmatch(r"arn:[^:]+:(iam|sts)::\d{12}:.+", value) and "*" not in value:
                entries.append(("aws", value))
            else:
                raise PolicyEvaluationError(f"{where}: Principal {value!r} is not implemented")
    return entries


# -- matching ------------------------------------------------------------------------------------


def _glob(pattern, text, ignore_case=False):
    """AWS wildcard match: ``*`` any run of characters (also none), ``?`` exactly one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def arn_matches(pattern, arn):
    """ArnLike/ArnEquals and Resource matching: each of the six components separately, with wildcards."""
    want = pattern.split(":", _ARN_PARTS - 1)
    have = arn.split(":", _ARN_PARTS - 1)
    if len(want) != _ARN_PARTS or len(have) != _ARN_PARTS:
        return False
    return all(_glob(want[i], have[i]) for i in range(_ARN_PARTS))


def _action_matches(statement, action):
    return any(_glob(pattern, action, ignore_case=True) for pattern in _strings(statement["Action"]))


def _resource_matches(statement, resource):
    return any(p == "*" or arn_matches(p, resource) for p in _strings(statement["Resource"]))


def _principal_match(statement, principal):
    """None, "direct" (the principal itself, * or its service) or "account" (its account, delegated)."""
    found = None
    for kind, value in _principal_entries(statement["Principal"], statement.get("Sid", "?")):
        if kind == "any":
            return "direct"
        if kind == "service" and principal.kind == "service" and value == principal.service:
            return "direct"
        if kind == "aws" and principal.kind == "iam" and value == principal.arn:
            return "direct"
        if kind == "aws" and principal.kind == "session" and value in (principal.arn, principal.role_arn):
            return "direct"
        if kind == "account" and principal.kind in ("iam", "session", "root") and value == principal.account:
            found = "account"
    return found


def _condition_holds(operator, key, values, request):
    set_op, base, if_exists = _operator(operator, key)
    name = key.lower()
    kind = _key_type(key, request.keys)
    present = name in request.context and request.context[name] != []
    policy_values = _strings(values)
    if base == "Null":
        return (policy_values[0].lower() == "true") != present
    if kind == "multi":
        if not present:
            return set_op == "ForAllValues"
        hits = [any(_compare(base, kind, pv, cv) for pv in policy_values) for cv in request.context[name]]
        return any(hits) if set_op == "ForAnyValue" else all(hits)
    _kinds, negated = _BASE_OPERATORS[base]
    if not present:
        return if_exists or negated
    matched = any(_compare(base, kind, pv, request.context[name]) for pv in policy_values)
    return not matched if negated else matched


def _compare(base, kind, policy_value, context_value):
    """True when the context value matches one policy value, for the positive form of the operator."""
    positive = base.replace("Not", "")
    if positive == "StringEquals":
        return context_value == policy_value
    if positive == "StringLike":
        return _glob(policy_value, context_value)
    if positive in ("ArnEquals", "ArnLike"):
        return arn_matches(policy_value, context_value)
    if positive == "NumericLessThan":
        return _number(context_value, "request") < _number(policy_value, "policy")
    if positive == "Bool":
        return context_value.lower() == policy_value.lower()
    raise PolicyEvaluationError(f"operator {base} is not implemented")


def matching_statements(document, request, resource_policy, name="policy", trust=False):
    """[(effect, "<name>:<Sid>", principal match)] of the statements that apply to the request.

    ``trust``: the document is a role trust policy; the request's resource is that role.
    """
    validate(document, name, resource_policy, request.keys, trust)
    found = []
    for index, statement in enumerate(statements(document)):
        match = _principal_match(statement, request.principal) if resource_policy else "identity"
        if match is None:
            continue
        if not _action_matches(statement, request.action):
            continue
        if not trust and not _resource_matches(statement, request.resource):
            continue
        conditions = statement.get("Condition") or {}
        if all(
            _condition_holds(op, key, values, request)
            for op, block in conditions.items()
            for key, values in block.items()
        ):
            found.append((statement["Effect"], f"{name}:{statement.get('Sid', index)}", match))
    return found


# -- decisions -----------------------------------------------------------------------------------


def decide(
    request, identity_policies=(), resource_policies=(), resource_account=None, key_policy=None, trust_policy=None
):
    """Decide a request.

    ``identity_policies`` and ``resource_policies``: [(name, document)]. ``resource_account``: the
    account that owns the resource. ``key_policy``: (name, document) of a KMS key, for a kms:
    request; it then takes the place of the resource policies (and is required). ``trust_policy``:
    (name, document) of a role, for an sts: request (``sts:AssumeRole``) whose resource is the role's
    ARN; it too takes the place of the resource policies and is required.
    """
    principal = request.principal
    if principal.kind in ("anonymous", "service") and identity_policies:
        raise PolicyEvaluationError(f"{principal} has no identity policies")
    if (key_policy is not None or trust_policy is not None) and resource_policies:
        raise PolicyEvaluationError("a kms or sts request is decided by a key or trust policy, not resource policies")
    if key_policy is not None and trust_policy is not None:
        raise PolicyEvaluationError("a request has a key policy or a trust policy, not both")
    if request.action.lower().startswith("kms:") and key_policy is None:
        raise PolicyEvaluationError("a kms request needs the key policy")
    if request.action.lower().startswith("sts:") != (trust_policy is not None):
        raise PolicyEvaluationError("an sts request, and only an sts request, is decided with a role's trust policy")
    if not resource_account:
        raise PolicyEvaluationError("the resource's account is needed")
    if trust_policy is not None:
        return _decide_trust(request, identity_policies, resource_account, trust_policy)
    resource_side = [key_policy] if key_policy is not None else list(resource_policies)
    identity_hits = [h for n, d in identity_policies for h in matching_statements(d, request, False, n)]
    resource_hits = [h for n, d in resource_side for h in matching_statements(d, request, True, n)]
    denies = [by for effect, by, _m in identity_hits + resource_hits if effect == DENY]
    if denies:
        return Decision(DENY, "explicit-deny", denies)
    same_account = principal.account == resource_account
    identity_allows = [by for effect, by, _m in identity_hits if effect == ALLOW]
    if principal.kind == "root" and same_account:
        identity_allows = identity_allows or ["root user of the resource's account"]
    direct = [by for effect, by, m in resource_hits if effect == ALLOW and m == "direct"]
    delegated = [by for effect, by, m in resource_hits if effect == ALLOW and m == "account"]
    if key_policy is not None:
        # KMS: the key policy must allow, directly or by naming the account whose IAM then must allow.
        if direct:
            return Decision(ALLOW, "allow", direct)
        if delegated and identity_allows:
            return Decision(ALLOW, "allow", delegated + identity_allows)
        return Decision(DENY, "implicit-deny")
    if principal.kind in ("anonymous", "service"):
        return Decision(ALLOW, "allow", direct) if direct else Decision(DENY, "implicit-deny")
    if same_account:
        if identity_allows or direct:
            return Decision(ALLOW, "allow", identity_allows + direct)
        return Decision(DENY, "implicit-deny")
    if identity_allows and (direct or delegated):
        return Decision(ALLOW, "allow", direct + delegated + identity_allows)
    return Decision(DENY, "implicit-deny")


def _decide_trust(request, identity_policies, resource_account, trust_policy):
    """sts:AssumeRole and the like: the role's trust policy must allow (see the module's docstring)."""
    principal = request.principal
    if principal.kind == "anonymous":
        raise PolicyEvaluationError("an anonymous request cannot assume a role")
    if not re.fullmatch(r"arn:[^:]+:iam::\d{12}:role/.+", request.resource):
        raise PolicyEvaluationError(f"the resource of an sts request is a role ARN, got {request.resource!r}")
    if request.resource.split(":")[4] != resource_account:
        raise PolicyEvaluationError(f"{request.resource} is not a role of {resource_account}")
    name, document = trust_policy
    identity_hits = [h for n, d in identity_policies for h in matching_statements(d, request, False, n)]
    trust_hits = matching_statements(document, request, True, name, trust=True)
    denies = [by for effect, by, _m in identity_hits + trust_hits if effect == DENY]
    if denies:
        return Decision(DENY, "explicit-deny", denies)
    if principal.kind == "root":
        return Decision(DENY, "implicit-deny")  # the root user cannot assume a role
    identity_allows = [by for effect, by, _m in identity_hits if effect == ALLOW]
    direct = [by for effect, by, m in trust_hits if effect == ALLOW and m == "direct"]
    delegated = [by for effect, by, m in trust_hits if effect == ALLOW and m == "account"]
    if principal.kind == "service":
        return Decision(ALLOW, "allow", direct) if direct else Decision(DENY, "implicit-deny")
    if principal.account == resource_account and direct:
        return Decision(ALLOW, "allow", direct)
    if (direct or delegated) and identity_allows:
        return Decision(ALLOW, "allow", direct + delegated + identity_allows)
    return Decision(DENY, "implicit-deny")


# -- helpers -------------------------------------------------------------------------------------


def _key_types(extra):
    types = dict(CONDITION_KEYS)
    types.update({k.lower(): v for k, v in (extra or {}).items()})
    return types


def _key_type(name, types, where="request"):
    kind = types.get(name.lower())
    if kind is None:
        raise PolicyEvaluationError(f"{where}: condition key {name} is not implemented")
    return kind


def _strings(value):
    values = value if isinstance(value, list) else [value]
    out = []
    for item in values:
        if isinstance(item, (dict, list)) or item is None:
            raise PolicyEvaluationError(f"expected a string or a list of strings, got {value!r}")
        out.append(_scalar(item))
    return out


def _scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(value, where):
    try:
        return float(value)
    except ValueError:
        raise PolicyEvaluationError(f"{where}: {value!r} is not a number") from None


def _no_variables(value, where):
    if "${" in value:
        raise PolicyEvaluationError(f"{where}: policy variables ({value}) are not implemented")
