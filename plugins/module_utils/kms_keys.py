# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Compare KMS keys however they are named: key id, key ARN, alias name or alias ARN."""

from __future__ import annotations

from ansible_collections.tap.ebook_storage.plugins.module_utils.aws_session import AWS_ERRORS


class KeyResolver:
    """Turns any key reference into the key's ARN through kms.describe_key (cached)."""

    def __init__(self, session, region=None, account_id=None, partition="aws"):
        self.session = session
        self.region = region
        self.account_id = account_id
        self.partition = partition

    def metadata(self, key):
        return self.session.read("kms", "describe_key", KeyId=key)["KeyMetadata"]

    def key_arn(self, key):
        """The key's ARN; raises the AWS error when describe_key fails."""
        if not key:
            return None
        return self.metadata(key)["Arn"]

    def key_arn_or_guess(self, key):
        """The key's ARN when KMS can be asked, else the ARN spelled from the reference itself."""
        if not key:
            return None
        try:
            return self.key_arn(key)
        except AWS_ERRORS:
            return self.spelled_arn(key)

    def spelled_arn(self, key):
        if key.startswith("arn:"):
            return key
        if key.startswith("alias/"):
            return f"arn:{self.partition}:kms:{self.region}:{self.account_id}:{key}"
        return f"arn:{self.partition}:kms:{self.region}:{self.account_id}:key/{key}"

    def same_key(self, expected, observed):
        """True when both references name the same key."""
        if not expected or not observed:
            return False
        if expected == observed:
            return True
        return self.key_arn_or_guess(expected) == self.key_arn_or_guess(observed)
