"""plugins/module_utils/policy_evaluation.py on AWS's own documented examples and rules.

Each test names the AWS documentation page whose example or rule it reproduces.
"""

from __future__ import annotations

import pytest

from ansible_collections.tap.ebook_storage.plugins.module_utils import policy_evaluation as pe

ACCOUNT = "111122223333"
OTHER = "444455556666"
ALICE = pe.Principal("iam", arn=f"arn:aws:iam::{ACCOUNT}:user/Alice")
CARLOS = pe.Principal("iam", arn=f"arn:aws:iam::{OTHER}:user/Carlos")
EC2_KEYS = {"ec2:InstanceType": "string", "aws:TokenIssueTime": "string"}


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allowed(request, identity=(), resource=(), account=ACCOUNT, key_policy=None):
    return pe.decide(request, identity, resource, resource_account=account, key_policy=key_policy).effect == pe.ALLOW


# -- Condition operators, "...IfExists condition operators" example
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_IfExists
IF_EXISTS = doc(
    {
        "Effect": "Allow",
        "Action": "ec2:*",
        "Resource": "*",
        "Condition": {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}},
    }
)


@pytest.mark.parametrize(
    ("context", "expect"),
    [
        ({"ec2:InstanceType": "t2.micro"}, True),  # present and matching
        ({"ec2:InstanceType": "m5.large"}, False),  # present and not matching
        ({}, True),  # absent: "...IfExists" is true
    ],
)
def test_if_exists_example(context, expect):
    request = pe.Request(ALICE, "ec2:RunInstances", "arn:aws:ec2:us-east-1:111122223333:instance/*", context, EC2_KEYS)
    assert allowed(request, [("p", IF_EXISTS)]) is expect


def test_without_if_exists_a_missing_key_does_not_match():
    policy = doc(
        {
            "Effect": "Allow",
            "Action": "ec2:*",
            "Resource": "*",
            "Condition": {"StringLike": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}},
        }
    )
    request = pe.Request(ALICE, "ec2:RunInstances", "*", {}, EC2_KEYS)
    assert not allowed(request, [("p", policy)])


# -- Condition operators, "Condition operator to check existence of condition keys" (Null) example:
# allow only when the caller does not use temporary credentials (aws:TokenIssueTime absent).
NULL = doc(
    {"Effect": "Allow", "Action": "ec2:*", "Resource": "*", "Condition": {"Null": {"aws:TokenIssueTime": "true"}}}
)


@pytest.mark.parametrize(("context", "expect"), [({}, True), ({"aws:TokenIssueTime": "2026-01-01T00:00:00Z"}, False)])
def test_null_example(context, expect):
    request = pe.Request(ALICE, "ec2:DescribeInstances", "*", context, EC2_KEYS)
    assert allowed(request, [("p", NULL)]) is expect


# -- Condition operators, "Important": a missing key makes a condition false, except for negated
# operators (StringNotLike, ArnNotLike...: true), ...IfExists and Null.
@pytest.mark.parametrize(
    ("operator", "holds"),
    [
        ("StringEquals", False),
        ("StringLike", False),
        ("StringNotEquals", True),
        ("StringNotLike", True),
        ("StringEqualsIfExists", True),
    ],
)
def test_missing_key(operator, holds):
    policy = doc(
        {
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {operator: {"s3:x-amz-server-side-encryption": "aws:kms"}},
        }
    )
    request = pe.Request(ALICE, "s3:PutObject", "arn:aws:s3:::b/k")
    assert (pe.decide(request, [("p", policy)], resource_account=ACCOUNT).reason == "explicit-deny") is holds


def test_arn_not_like_on_missing_principal_arn_matches():
    """An anonymous request has no aws:PrincipalArn: a Deny with ArnNotLike on it applies."""
    policy = doc(
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*",
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/r"}},
        }
    )
    request = pe.Request(pe.Principal("anonymous"), "s3:GetObject", "arn:aws:s3:::b/k")
    assert pe.decide(request, (), [("b", policy)], resource_account=ACCOUNT).reason == "explicit-deny"


# -- "Condition with multiple context keys or values": values of one key OR together, NOR for a negated
# operator; keys and operators AND together.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html
def test_multiple_values_or_and_negated_nor():
    values = ["arn:aws:kms:us-east-1:111122223333:key/a", "arn:aws:kms:us-east-1:111122223333:key/b"]
    deny = doc(
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": "*",
            "Condition": {
                "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": values},
                "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"},
            },
        }
    )
    for key, denied in ((values[0], False), (values[1], False), ("arn:aws:kms:us-east-1:111122223333:key/c", True)):
        request = pe.Request(
            ALICE, "s3:PutObject", "arn:aws:s3:::b/k", {"s3:x-amz-server-side-encryption-aws-kms-key-id": key}
        )
        assert (pe.decide(request, (), [("b", deny)], resource_account=ACCOUNT).reason == "explicit-deny") is denied
    # Null "false" ANDed: without the header the Deny does not apply
    request = pe.Request(ALICE, "s3:PutObject", "arn:aws:s3:::b/k")
    assert pe.decide(request, (), [("b", deny)], resource_account=ACCOUNT).reason != "explicit-deny"


# -- "Set operators for multivalued context keys": ForAnyValue is false for a missing key, ForAllValues true.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
@pytest.mark.parametrize(
    ("operator", "aliases", "holds"),
    [
        ("ForAnyValue:StringEquals", ["alias/a", "alias/b"], True),
        ("ForAnyValue:StringEquals", ["alias/c"], False),
        ("ForAnyValue:StringEquals", [], False),
        ("ForAllValues:StringEquals", ["alias/a", "alias/c"], False),
        ("ForAllValues:StringEquals", [], True),
    ],
)
def test_set_operators(operator, aliases, holds):
    policy = doc(
        {
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {operator: {"kms:ResourceAliases": ["alias/a", "alias/b"]}},
        }
    )
    key = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    request = pe.Request(
        ALICE, "kms:Decrypt", f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k", {"kms:ResourceAliases": aliases}
    )
    assert allowed(request, [("p", policy)], key_policy=("key", key)) is holds


# -- Condition operators, ARN operators: "Each of the six colon-delimited components of the ARN is checked
# separately and each can include multi-character match wildcards (*) or single-character match wildcards (?)".
@pytest.mark.parametrize(
    ("pattern", "arn", "expect"),
    [
        (
            "arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_Admin_*",
            "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_1",
            True,
        ),
        ("arn:aws:iam::111122223333:role/ci-?", "arn:aws:iam::111122223333:role/ci-a", True),
        ("arn:aws:iam::111122223333:role/ci-?", "arn:aws:iam::111122223333:role/ci-ab", False),
        ("arn:aws:iam::1111*", "arn:aws:iam::111122223333:role/x", False),  # * never spans a component
        ("arn:aws:s3:::bucket/*.pdf", "arn:aws:s3:::bucket/dir/a.pdf", True),
        ("arn:aws:s3:::bucket/*.pdf", "arn:aws:s3:::bucket/a.PDF", False),  # case-sensitive
    ],
)
def test_arn_matching(pattern, arn, expect):
    assert pe.arn_matches(pattern, arn) is expect


def test_actions_match_case_insensitively_with_wildcards():
    policy = doc({"Effect": "Allow", "Action": "S3:getobject*", "Resource": "*"})
    assert allowed(pe.Request(ALICE, "s3:GetObjectVersion", "arn:aws:s3:::b/k"), [("p", policy)])
    assert not allowed(pe.Request(ALICE, "s3:PutObject", "arn:aws:s3:::b/k"), [("p", policy)])


# -- Policy evaluation logic: an explicit Deny overrides any Allow; nothing that allows is an implicit deny.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
def test_explicit_deny_overrides_allow():
    allow = doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    deny = doc({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})
    request = pe.Request(ALICE, "s3:GetObject", "arn:aws:s3:::b/k")
    decision = pe.decide(request, [("id", allow)], [("b", deny)], resource_account=ACCOUNT)
    assert (decision.effect, decision.reason, decision.by) == (pe.DENY, "explicit-deny", ["b:0"])
    assert pe.decide(request, (), (), resource_account=ACCOUNT).reason == "implicit-deny"


# Same account: an identity policy OR a resource policy that names the principal allows.
# Cross account ("Cross-account policy evaluation logic"): both the resource policy and the identity
# policy must allow.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
def test_same_account_resource_policy_alone_allows():
    bucket = doc(
        {"Effect": "Allow", "Principal": {"AWS": ALICE.arn}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    )
    assert allowed(pe.Request(ALICE, "s3:GetObject", "arn:aws:s3:::b/k"), (), [("b", bucket)])


def test_cross_account_needs_both():
    bucket = doc(
        {"Effect": "Allow", "Principal": {"AWS": CARLOS.arn}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    )
    identity = doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    request = pe.Request(CARLOS, "s3:GetObject", "arn:aws:s3:::b/k")
    assert not allowed(request, (), [("b", bucket)])
    assert not allowed(request, [("id", identity)], ())
    assert allowed(request, [("id", identity)], [("b", bucket)])


def test_account_principal_in_resource_policy_delegates_to_iam():
    bucket = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*",
        }
    )
    request = pe.Request(ALICE, "s3:GetObject", "arn:aws:s3:::b/k")
    assert not allowed(request, (), [("b", bucket)])


def test_anonymous_only_by_a_public_resource_policy():
    public = doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})
    request = pe.Request(pe.Principal("anonymous"), "s3:GetObject", "arn:aws:s3:::b/k")
    assert allowed(request, (), [("b", public)])
    assert not allowed(request, (), ())


# -- KMS: "Determining access to AWS KMS keys": the key policy must allow, directly or by naming the account
# (then the IAM policy must allow too).
# https://docs.aws.amazon.com/kms/latest/developerguide/determining-access.html
def test_kms_key_policy_is_required():
    identity = doc({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"})
    delegate = doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}
    )
    direct = doc({"Effect": "Allow", "Principal": {"AWS": ALICE.arn}, "Action": "kms:Decrypt", "Resource": "*"})
    nothing = doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "kms:*", "Resource": "*"}
    )
    request = pe.Request(ALICE, "kms:Decrypt", f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k")
    assert allowed(request, [("id", identity)], key_policy=("key", delegate))
    assert not allowed(request, (), key_policy=("key", delegate))
    assert allowed(request, (), key_policy=("key", direct))
    assert not allowed(request, [("id", identity)], key_policy=("key", nothing))
    with pytest.raises(pe.PolicyEvaluationError):
        pe.decide(request, [("id", identity)], resource_account=ACCOUNT)


# -- Role trust policies: like key policies, the trust policy must allow ("Policy evaluation logic": role
# trust policies and KMS key policies must explicitly allow the principal). In the role's account a trust
# policy naming the principal's ARN is enough; one naming the account needs the principal's identity policy
# to allow sts:AssumeRole too; from another account the identity policy must allow in every case (STS API
# Reference, "AssumeRole").
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
# https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
ROLE = f"arn:aws:iam::{ACCOUNT}:role/publisher"
ASSUME = doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": ROLE})


def trust(*principals):
    return doc({"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": "sts:AssumeRole"})


def assume(principal, trust_policy, identity=()):
    request = pe.Request(principal, "sts:AssumeRole", ROLE)
    return pe.decide(request, identity, resource_account=ACCOUNT, trust_policy=("trust", trust_policy))


def test_trust_naming_the_principal_is_enough_in_the_same_account():
    assert assume(ALICE, trust(ALICE.arn)).effect == pe.ALLOW
    assert assume(ALICE, trust(f"arn:aws:iam::{ACCOUNT}:role/other")).reason == "implicit-deny"


def test_trust_naming_the_account_needs_an_identity_allow():
    root_trust = trust(f"arn:aws:iam::{ACCOUNT}:root")
    assert assume(ALICE, root_trust).reason == "implicit-deny"
    decision = assume(ALICE, root_trust, [("alice", ASSUME)])
    assert (decision.effect, decision.by) == (pe.ALLOW, ["trust:0", "alice:0"])
    assert assume(ALICE, trust(ACCOUNT), [("alice", ASSUME)]).effect == pe.ALLOW  # the bare account id


def test_identity_allow_alone_does_not_assume_a_role():
    admin = doc({"Effect": "Allow", "Action": "*", "Resource": "*"})
    assert assume(ALICE, trust(f"arn:aws:iam::{ACCOUNT}:role/other"), [("admin", admin)]).reason == "implicit-deny"


def test_cross_account_trust_needs_the_identity_allow_too():
    assert assume(CARLOS, trust(CARLOS.arn)).reason == "implicit-deny"
    assert assume(CARLOS, trust(CARLOS.arn), [("carlos", ASSUME)]).effect == pe.ALLOW
    assert assume(CARLOS, trust(f"arn:aws:iam::{OTHER}:root"), [("carlos", ASSUME)]).effect == pe.ALLOW
    assert assume(CARLOS, trust(ALICE.arn), [("carlos", ASSUME)]).reason == "implicit-deny"


def test_trust_explicit_deny_wins():
    deny = doc({"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"})
    assert assume(ALICE, trust(ALICE.arn), [("deny", deny)]).reason == "explicit-deny"


def test_service_principals_and_root():
    lambda_trust = doc(
        {"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]}, "Action": "sts:AssumeRole"}
    )
    assert assume(pe.Principal("service", service="lambda.amazonaws.com"), lambda_trust).effect == pe.ALLOW
    assert assume(pe.Principal("service", service="ec2.amazonaws.com"), lambda_trust).reason == "implicit-deny"
    root = pe.Principal("root", arn=f"arn:aws:iam::{ACCOUNT}:root")
    assert assume(root, trust(f"arn:aws:iam::{ACCOUNT}:root")).effect == pe.DENY  # the root user cannot


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Principal": {"AWS": ALICE.arn}, "Action": "sts:AssumeRole", "Resource": ROLE},
        {"Effect": "Allow", "Principal": {"AWS": ALICE.arn}, "Action": "s3:GetObject"},
        {"Effect": "Allow", "Action": "sts:AssumeRole"},
    ],
)
def test_malformed_trust_policies_raise(statement):
    with pytest.raises(pe.PolicyEvaluationError):
        assume(ALICE, doc(statement))


def test_sts_requests_need_the_trust_policy_and_nothing_else():
    request = pe.Request(ALICE, "sts:AssumeRole", ROLE)
    with pytest.raises(pe.PolicyEvaluationError):
        pe.decide(request, [("alice", ASSUME)], resource_account=ACCOUNT)
    with pytest.raises(pe.PolicyEvaluationError):
        pe.decide(pe.Request(ALICE, "s3:GetObject", "arn:aws:s3:::b/k"), resource_account=ACCOUNT,
                  trust_policy=("trust", trust(ALICE.arn)))
    with pytest.raises(pe.PolicyEvaluationError):
        pe.decide(pe.Request(ALICE, "sts:AssumeRole", "arn:aws:s3:::b"), resource_account=ACCOUNT,
                  trust_policy=("trust", trust(ALICE.arn)))


# -- Assumed-role sessions: aws:PrincipalArn is the role's ARN ("AWS global condition context keys"), and a
# resource policy that names the role names its sessions ("AWS JSON policy elements: Principal").
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-role-session
SESSION = pe.Principal("session", arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/publisher/ci-run-1")


def test_session_principal_arn_is_its_role():
    assert SESSION.role_arn == ROLE
    assert SESSION.global_keys() == {"aws:PrincipalArn": ROLE, "aws:PrincipalAccount": ACCOUNT}
    deny = doc({"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*",
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": ROLE}}})
    request = pe.Request(SESSION, "s3:PutObject", "arn:aws:s3:::b/k")
    assert pe.decide(request, (), [("b", deny)], resource_account=ACCOUNT).reason == "implicit-deny"


def test_resource_policy_naming_the_role_or_the_session_names_the_session():
    for named in (ROLE, SESSION.arn):
        bucket = doc({"Effect": "Allow", "Principal": {"AWS": named}, "Action": "s3:GetObject",
                      "Resource": "arn:aws:s3:::b/*"})
        assert allowed(pe.Request(SESSION, "s3:GetObject", "arn:aws:s3:::b/k"), (), [("b", bucket)])


def test_session_of_a_role_with_a_path_and_bad_session_arns():
    with_path = pe.Principal("session", arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/ci/run",
                             role_arn=f"arn:aws:iam::{ACCOUNT}:role/team/ci")
    assert with_path.global_keys()["aws:PrincipalArn"] == f"arn:aws:iam::{ACCOUNT}:role/team/ci"
    for arn, role_arn in ((f"arn:aws:iam::{ACCOUNT}:role/ci", None),
                          (f"arn:aws:sts::{ACCOUNT}:assumed-role/ci/run", f"arn:aws:iam::{ACCOUNT}:role/other")):
        with pytest.raises(pe.PolicyEvaluationError):
            pe.Principal("session", arn=arn, role_arn=role_arn)


# -- fail loudly -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "statement",
    [
        {
            "Effect": "Allow",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        },
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"StringEquals": {"aws:username": "a"}}},
        {"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::${aws:username}/*"},
        {
            "Effect": "Allow",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ResourceAliases": "a"}},
        },
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"DateLessThan": {"aws:CurrentTime": "x"}}},
    ],
)
def test_what_is_not_implemented_raises(statement):
    with pytest.raises(pe.PolicyEvaluationError):
        pe.decide(
            pe.Request(ALICE, "s3:GetObject", "arn:aws:s3:::b/k"), [("p", doc(statement))], resource_account=ACCOUNT
        )


def test_unknown_request_key_raises():
    with pytest.raises(pe.PolicyEvaluationError):
        pe.Request(ALICE, "s3:GetObject", "arn:aws:s3:::b/k", {"s3:prefix": "x"})


def test_not_principal_raises():
    statement = {"Effect": "Deny", "NotPrincipal": {"AWS": ALICE.arn}, "Action": "s3:*", "Resource": "*"}
    with pytest.raises(pe.PolicyEvaluationError):
        pe.decide(
            pe.Request(ALICE, "s3:GetObject", "arn:aws:s3:::b/k"), (), [("b", doc(statement))], resource_account=ACCOUNT
        )


# -- CloudWatch, "Using condition keys to limit access to CloudWatch namespaces"
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html
NAMESPACE = doc(
    {
        "Effect": "Allow",
        "Action": "cloudwatch:PutMetricData",
        "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": "MyCustomNamespace"}},
    }
)


@pytest.mark.parametrize(
    ("context", "expect"),
    [({"cloudwatch:namespace": "MyCustomNamespace"}, True), ({"cloudwatch:namespace": "AWS/EC2"}, False), ({}, False)],
)
def test_cloudwatch_namespace_example(context, expect):
    request = pe.Request(ALICE, "cloudwatch:PutMetricData", "*", context)
    assert allowed(request, identity=[("ns", NAMESPACE)]) is expect
