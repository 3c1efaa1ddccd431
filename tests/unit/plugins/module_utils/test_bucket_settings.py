# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import datetime

from ansible_collections.tap.ebook_storage.plugins.module_utils import bucket_settings as bs

PROPS = {
    "BucketEncryption": {
        "ServerSideEncryptionConfiguration": [
            {
                "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:aws:kms:r:1:key/k"},
                "BucketKeyEnabled": "true",
            }
        ]
    },
    "VersioningConfiguration": {"Status": "Enabled"},
    "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "IgnorePublicAcls": "true"},
    "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    "LoggingConfiguration": {"DestinationBucketName": "logs", "LogFilePrefix": "s3-access/"},
    "LifecycleConfiguration": {
        "Rules": [
            {
                "Id": "noncurrent",
                "Status": "Enabled",
                "NoncurrentVersionTransitions": [{"StorageClass": "STANDARD_IA", "TransitionInDays": "30"}],
                "NoncurrentVersionExpiration": {"NoncurrentDays": "365"},
                "ExpiredObjectDeleteMarker": True,
            },
            {"Id": "abort", "Status": "Enabled", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
            {
                "Id": "tagged",
                "Status": "Disabled",
                "Prefix": "tmp/",
                "TagFilters": [{"Key": "k", "Value": "v"}],
                "ExpirationInDays": 3,
                "Transitions": [{"StorageClass": "GLACIER", "TransitionDate": "2030-01-01T00:00:00Z"}],
            },
        ]
    },
    "Tags": [{"Key": "Project", "Value": "ebook-storage"}],
}


def test_desired_settings_from_template_properties():
    desired = bs.desired_settings(PROPS, "books")
    assert desired["acl"] == "private"
    assert desired["ownership"] == "BucketOwnerEnforced"
    assert desired["versioning"] == "Enabled"
    assert desired["public_access_block"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False,
    }
    assert desired["encryption"] == {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": "arn:aws:kms:r:1:key/k",
                },
                "BucketKeyEnabled": True,
            }
        ]
    }
    assert desired["logging"] == {"TargetBucket": "logs", "TargetPrefix": "s3-access/"}
    rules = desired["lifecycle"]
    assert rules[0] == {
        "ID": "noncurrent",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "Expiration": {"ExpiredObjectDeleteMarker": True},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 365},
        "NoncurrentVersionTransitions": [{"NoncurrentDays": 30, "StorageClass": "STANDARD_IA"}],
    }
    assert rules[1]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert rules[2]["Filter"] == {"And": {"Prefix": "tmp/", "Tags": [{"Key": "k", "Value": "v"}]}}
    assert rules[2]["Expiration"] == {"Days": 3}
    assert desired["tags"] == {"Project": "ebook-storage"}


def test_logging_defaults_to_the_bucket_itself_and_absent_means_none():
    assert bs.desired_settings({"LoggingConfiguration": {}}, "b")["logging"] == {
        "TargetBucket": "b",
        "TargetPrefix": "",
    }
    desired = bs.desired_settings({}, "b")
    assert desired["logging"] is None
    assert desired["lifecycle"] is None
    assert desired["encryption"] is None
    assert bs.managed("logging", desired) and bs.managed("lifecycle", desired) and bs.managed("acl", desired)
    assert not bs.managed("encryption", desired)


def test_lifecycle_matches_what_s3_returns():
    desired = bs.desired_settings(PROPS, "books")["lifecycle"]
    live = [
        {
            "ID": "tagged",
            "Status": "Disabled",
            "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "k", "Value": "v"}]}},
            "Expiration": {"Days": 3},
            "Transitions": [{"Date": datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC), "StorageClass": "GLACIER"}],
        },
        {
            "ID": "abort",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        },
        {
            "ID": "noncurrent",
            "Status": "Enabled",
            "Prefix": "",
            "Expiration": {"ExpiredObjectDeleteMarker": True},
            "NoncurrentVersionTransitions": [{"NoncurrentDays": 30, "StorageClass": "STANDARD_IA"}],
            "NoncurrentVersionExpiration": {"NoncurrentDays": 365},
        },
    ]
    assert bs.lifecycle_differences(desired, live) == []
    assert bs.setting_matches("lifecycle", desired, live)
    live[2]["NoncurrentVersionExpiration"] = {"NoncurrentDays": 400}
    assert bs.lifecycle_differences(desired, live) == ["rule noncurrent differs in noncurrent_expiration"]
    extra = live + [{"ID": "surprise", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}]
    assert "rule surprise is not declared in the template" in bs.lifecycle_differences(desired, extra)


def test_rules_without_id_match_any_id():
    desired = [bs.lifecycle_rule_to_api({"Status": "Enabled", "ExpirationInDays": 5})]
    live = [{"ID": "generated-by-aws", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 5}}]
    assert bs.lifecycle_differences(desired, live) == []


def test_single_condition_filters():
    assert bs.lifecycle_rule_to_api({"Status": "Enabled", "TagFilters": [{"Key": "a", "Value": 1}]})["Filter"] == {
        "Tag": {"Key": "a", "Value": "1"}
    }
    assert bs.lifecycle_rule_to_api({"Status": "Enabled", "ObjectSizeGreaterThan": "10"})["Filter"] == {
        "ObjectSizeGreaterThan": 10
    }
    rule = bs.lifecycle_rule_to_api(
        {
            "Status": "Enabled",
            "NoncurrentVersionExpirationInDays": 9,
            "NoncurrentVersionTransition": {"StorageClass": "GLACIER", "TransitionInDays": 1},
        }
    )
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 9}
    assert rule["NoncurrentVersionTransitions"] == [{"NoncurrentDays": 1, "StorageClass": "GLACIER"}]


def test_acl_grants():
    owner = {"ID": "abc"}
    private = {
        "Owner": owner,
        "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": "abc"}, "Permission": "FULL_CONTROL"}],
    }
    public = {
        "Owner": owner,
        "Grants": private["Grants"] + [{"Grantee": {"Type": "Group", "URI": bs.GROUP_ALL_USERS}, "Permission": "READ"}],
    }
    assert bs.setting_matches("acl", "private", private)
    assert not bs.setting_matches("acl", "private", public)
    assert bs.public_grants(public) == ["AllUsers:READ"]
    assert bs.public_grants(private) == []
    assert bs.setting_matches("acl", "public-read", public)


def test_encryption_compare_without_kms():
    desired = bs.desired_settings(PROPS, "b")["encryption"]
    same = {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": "arn:aws:kms:r:1:key/k",
                },
                "BucketKeyEnabled": True,
            }
        ]
    }
    no_bucket_key = {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": "arn:aws:kms:r:1:key/k",
                }
            }
        ]
    }
    assert bs.setting_matches("encryption", desired, same)
    assert not bs.setting_matches("encryption", desired, no_bucket_key)
    assert not bs.setting_matches("encryption", desired, None)


def test_logging_and_public_access_block_compare():
    assert bs.setting_matches("logging", None, None)
    assert not bs.setting_matches("logging", None, {"TargetBucket": "x", "TargetPrefix": ""})
    assert bs.setting_matches(
        "logging", {"TargetBucket": "x", "TargetPrefix": "p/"}, {"TargetBucket": "x", "TargetPrefix": "p/"}
    )
    pab = dict.fromkeys(bs.PAB_FLAGS, True)
    assert bs.setting_matches("public_access_block", pab, dict(pab))
    assert not bs.setting_matches("public_access_block", pab, dict(pab, BlockPublicPolicy=False))
    assert bs.setting_matches("tags", {"a": "1"}, {"a": "1", "b": "2"})
    assert not bs.setting_matches("tags", {"a": "1"}, {"a": "2"})


INVENTORY_PROPS = {
    "InventoryConfigurations": [
        {
            "Id": "daily",
            "Enabled": "true",
            "Destination": {"BucketArn": "arn:aws:s3:::logs", "Format": "CSV", "Prefix": "inventory"},
            "IncludedObjectVersions": "All",
            "OptionalFields": ["Size", "LastModifiedDate", "EncryptionStatus", "BucketKeyStatus"],
            "ScheduleFrequency": "Daily",
        }
    ],
    "NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}},
}

# What ListBucketInventoryConfigurations answers for INVENTORY_PROPS (fields in another order).
LIVE_INVENTORY = [
    {
        "Destination": {"S3BucketDestination": {"Bucket": "arn:aws:s3:::logs", "Format": "CSV", "Prefix": "inventory"}},
        "IsEnabled": True,
        "Id": "daily",
        "IncludedObjectVersions": "All",
        "OptionalFields": ["LastModifiedDate", "Size", "BucketKeyStatus", "EncryptionStatus"],
        "Schedule": {"Frequency": "Daily"},
    }
]


def test_inventory_and_eventbridge_in_api_shapes():
    desired = bs.desired_settings(INVENTORY_PROPS, "books")
    assert desired["inventory"] == [
        {
            "Id": "daily",
            "IsEnabled": True,
            "Destination": {
                "S3BucketDestination": {"Bucket": "arn:aws:s3:::logs", "Format": "CSV", "Prefix": "inventory"}
            },
            "IncludedObjectVersions": "All",
            "Schedule": {"Frequency": "Daily"},
            "OptionalFields": ["Size", "LastModifiedDate", "EncryptionStatus", "BucketKeyStatus"],
        }
    ]
    assert desired["notifications"] == {"EventBridgeConfiguration": {}}
    nothing = bs.desired_settings({}, "books")
    assert nothing["inventory"] is None and nothing["notifications"] is None
    assert bs.managed("inventory", nothing) and bs.managed("notifications", nothing)


def test_inventory_compares_by_id_and_field():
    desired = bs.desired_settings(INVENTORY_PROPS, "books")["inventory"]
    assert bs.inventory_differences(desired, LIVE_INVENTORY) == []
    assert bs.setting_matches("inventory", desired, LIVE_INVENTORY)
    weekly = [dict(LIVE_INVENTORY[0], Schedule={"Frequency": "Weekly"}, IncludedObjectVersions="Current")]
    assert bs.inventory_differences(desired, weekly) == ["inventory daily differs in frequency, versions"]
    other = [dict(LIVE_INVENTORY[0], Id="surprise")]
    assert bs.inventory_differences(desired, other) == [
        "inventory daily is missing",
        "inventory surprise is not declared in the template",
    ]
    assert bs.setting_matches("inventory", None, None)
    assert not bs.setting_matches("inventory", None, LIVE_INVENTORY)


def test_a_notification_put_keeps_every_declared_kind():
    """PutBucketNotificationConfiguration replaces the whole configuration: all declared kinds go in one put."""
    props = {
        "NotificationConfiguration": {
            "EventBridgeConfiguration": {"EventBridgeEnabled": "true"},
            "TopicConfigurations": [
                {
                    "Event": "s3:ObjectRemoved:*",
                    "Topic": "arn:aws:sns:r:1:t",
                    "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "books/"}]}},
                }
            ],
            "LambdaConfigurations": [{"Event": "s3:ObjectCreated:*", "Function": "arn:aws:lambda:r:1:function:f"}],
        }
    }
    desired = bs.desired_settings(props, "books")["notifications"]
    assert desired == {
        "EventBridgeConfiguration": {},
        "TopicConfigurations": [
            {
                "TopicArn": "arn:aws:sns:r:1:t",
                "Events": ["s3:ObjectRemoved:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "books/"}]}},
            }
        ],
        "LambdaFunctionConfigurations": [
            {"LambdaFunctionArn": "arn:aws:lambda:r:1:function:f", "Events": ["s3:ObjectCreated:*"]}
        ],
    }
    live = {
        "EventBridgeConfiguration": {},
        "TopicConfigurations": [
            {
                "Id": "generated",
                "TopicArn": "arn:aws:sns:r:1:t",
                "Events": ["s3:ObjectRemoved:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "books/"}]}},
            }
        ],
        "LambdaFunctionConfigurations": [
            {"Id": "x", "LambdaFunctionArn": "arn:aws:lambda:r:1:function:f", "Events": ["s3:ObjectCreated:*"]}
        ],
    }
    assert bs.setting_matches("notifications", desired, live)
    for kind in ("TopicConfigurations", "EventBridgeConfiguration"):
        assert not bs.setting_matches("notifications", desired, {k: v for k, v in live.items() if k != kind}), kind
    assert bs.setting_matches("notifications", None, {})
    assert not bs.setting_matches("notifications", None, {"EventBridgeConfiguration": {}})


def test_legacy_prefix_of_a_lifecycle_rule_is_the_filter_prefix():
    """The log bucket's expire-inventory-reports rule uses the rule-level Prefix of CloudFormation."""
    rule = {"Id": "expire-inventory-reports", "Status": "Enabled", "Prefix": "inventory/", "ExpirationInDays": 7}
    api = bs.lifecycle_rule_to_api(rule)
    assert api == {
        "ID": "expire-inventory-reports",
        "Status": "Enabled",
        "Filter": {"Prefix": "inventory/"},
        "Expiration": {"Days": 7},
    }
    # as S3 (and LocalStack) answer GetBucketLifecycleConfiguration
    live = [{"Expiration": {"Days": 7}, "ID": api["ID"], "Filter": {"Prefix": "inventory/"}, "Status": "Enabled"}]
    assert bs.lifecycle_differences([api], live) == []
    live[0]["Filter"] = {"Prefix": "inventory"}
    assert bs.lifecycle_differences([api], live) == ["rule expire-inventory-reports differs in filter"]
