# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from ansible_collections.tap.ebook_storage.plugins.module_utils import policy_documents as pd


def test_parse_forms():
    doc = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}
    assert pd.parse_policy(doc) is doc
    assert pd.parse_policy(json.dumps(doc)) == doc
    assert pd.parse_policy(quote(json.dumps(doc))) == doc
    assert len(pd.statements(doc)) == 1
    with pytest.raises(pd.PolicyParseError):
        pd.parse_policy("{not json")


def test_equal_meaning_normalises_alike():
    a = {
        "Sid": "X",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": ["arn:b", "arn:a"],
        "Condition": {"Bool": {"aws:SecureTransport": False}},
    }
    b = {
        "Effect": "Deny",
        "Principal": {"AWS": ["*"]},
        "Action": ["S3:*"],
        "Resource": ["arn:a", "arn:b"],
        "Condition": {"Bool": {"aws:securetransport": "false"}},
    }
    assert pd.statement_differences(a, b) == []
    c = dict(b, Condition={"Bool": {"aws:SecureTransport": "true"}})
    assert pd.statement_differences(a, c) == ["Condition"]
    assert pd.documents_equal({"Statement": [a]}, {"Statement": [b]})


def test_public_allows():
    doc = {
        "Statement": [
            {"Sid": "Open", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"},
            {
                "Sid": "Cond",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "sns:Publish",
                "Condition": {"StringEquals": {"aws:SourceOwner": "1"}},
            },
            {"Sid": "Deny", "Effect": "Deny", "Principal": "*", "Action": "*"},
            {"Sid": "Role", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:role/r"}, "Action": "*"},
        ]
    }
    assert pd.public_allows(doc, allow_with_condition=False) == ["Open", "Cond"]
    assert pd.public_allows(doc, allow_with_condition=True) == ["Open"]


def test_admin_allows():
    doc = {
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "*", "Resource": "*"},
        ]
    }
    assert pd.admin_allows(doc) == ["Statement[0]"]


def test_by_sid_and_condition_keys():
    doc = {
        "Statement": [
            {"Sid": "A", "Condition": {"Null": {"S3:X": "false"}, "StringEquals": {"aws:Y": "1"}}},
            {"Effect": "Allow"},
        ]
    }
    assert list(pd.by_sid(doc)) == ["A"]
    assert pd.condition_keys(pd.by_sid(doc)["A"]) == {"s3:x", "aws:y"}
