# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which resources of the eBook storage stack play which part.

Found through the output names fixed in docs/contracts.md (an output's
``Ref``/``Fn::GetAtt`` names the logical id), then through the references
between resources, so no logical id is hard-coded.
"""

from __future__ import annotations

from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import referenced_logical_id


class StackParts:
    def __init__(self, model):
        self.model = model
        self.data_bucket = model.find("AWS::S3::Bucket", ("EbooksBucketName", "EbooksBucketArn"))
        exclude = (self.data_bucket,) if self.data_bucket else ()
        self.logging_bucket = model.find("AWS::S3::Bucket", ("LoggingBucketName",), exclude=exclude)
        self.kms_key = model.find("AWS::KMS::Key", ("KmsKeyArn", "KmsKeyId"))
        self.kms_aliases = model.referencing("AWS::KMS::Alias", "TargetKeyId", self.kms_key) if self.kms_key else []
        self.topic = model.find("AWS::SNS::Topic", ("SNSTopicArn",))
        self.function = model.find(
            "AWS::Lambda::Function", ("StorageMonitoringFunctionName", "StorageMonitoringFunctionArn")
        )
        self.rule = model.find("AWS::Events::Rule", ("StorageMonitoringScheduleName",))
        self.upload_rule = self._other_rule_of_function()
        self.roles = model.of_type("AWS::IAM::Role")
        self.data_bucket_policy = self._first("AWS::S3::BucketPolicy", "Bucket", self.data_bucket)
        self.logging_bucket_policy = self._first("AWS::S3::BucketPolicy", "Bucket", self.logging_bucket)
        self.topic_policy = self._first("AWS::SNS::TopicPolicy", "Topics", self.topic)
        self.invoke_configs = self._all("AWS::Lambda::EventInvokeConfig", "FunctionName", self.function)
        self.permissions = self._all("AWS::Lambda::Permission", "FunctionName", self.function)
        self.role_policies = model.of_type("AWS::IAM::Policy")

    def _other_rule_of_function(self):
        """The one rule besides the schedule that targets the monitor function (the upload check), or None."""
        if not self.function:
            return None
        found = []
        for lid in self.model.of_type("AWS::Events::Rule"):
            targets = (self.model.resources[lid].get("Properties") or {}).get("Targets") or []
            arns = [t.get("Arn") for t in targets if isinstance(t, dict)]
            if lid != self.rule and any(referenced_logical_id(a) == self.function for a in arns):
                found.append(lid)
        return found[0] if len(found) == 1 else None

    def _all(self, rtype, prop, target):
        if not target:
            return []
        return self.model.referencing(rtype, prop, target)

    def _first(self, rtype, prop, target):
        found = self._all(rtype, prop, target)
        return found[0] if found else None

    def name(self, logical_id):
        """Physical id of a resource (bucket name, role name, function name, topic ARN, ...)."""
        return self.model.physical_id(logical_id) if logical_id else None

    def inline_policies_of_role(self, role_logical_id):
        """Inline policies declared for a role: its Policies and any AWS::IAM::Policy naming it."""
        declared = {}
        for policy in self.model.resolve_at(role_logical_id, "Policies") or []:
            declared[policy.get("PolicyName")] = policy.get("PolicyDocument")
        for lid in self.role_policies:
            roles = (self.model.resources[lid].get("Properties") or {}).get("Roles") or []
            if any(referenced_logical_id(r) == role_logical_id for r in roles):
                props = self.model.properties(lid)
                declared[props.get("PolicyName")] = props.get("PolicyDocument")
        return declared

    def log_group_of_function(self):
        """(logical id or None, log group name) of the monitor's log group."""
        if not self.function:
            return None, None
        function_name = self.name(self.function)
        logging_config = self.model.resolve_at(self.function, "LoggingConfig") or {}
        wanted = logging_config.get("LogGroup") or f"/aws/lambda/{function_name}"
        for lid in self.model.of_type("AWS::Logs::LogGroup"):
            if self.model.resolve_at(lid, "LogGroupName") == wanted:
                return lid, wanted
        return None, wanted
