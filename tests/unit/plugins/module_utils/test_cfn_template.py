# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import NO_VALUE
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import Resolver
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateError
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import TemplateResolutionError
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import load_template
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import parameter_values
from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import referenced_logical_id

TEMPLATE = """
Parameters:
  Env: {Type: String, Default: dev}
  Names: {Type: CommaDelimitedList, Default: "a,b"}
  Days: {Type: Number, Default: 30}
  Alias: {Type: String, Default: ""}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [!Condition IsProd]
  Both: !Not [!Or [!Condition IsProd, !Equals [!Ref Days, 31]]]
  Either: !Or [!Condition IsProd, !Equals ["x", "y"]]
  NoAlias: !Equals [!Ref Alias, ""]
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "books-${Env}-${AWS::AccountId}"
      Arn: !GetAtt Bucket.Arn
      Long: {"Fn::GetAtt": ["Bucket", "Arn"]}
      Joined: !Join ["-", [!Ref Env, !Select [1, !Ref Names], !Select [0, !Split [",", "x,y"]]]]
      Maybe: !If [IsProd, "yes", !Ref AWS::NoValue]
      List: [one, !If [IsProd, two, !Ref AWS::NoValue], three]
      Literal: !Sub "${!NotAVar}-${AWS::Region}"
      WithVars: !Sub ["${A}/${Bucket.Arn}", {A: !Ref Days}]
      Date: 2030-01-01
      Flag: !If [Both, "up", "down"]
      Other: !If [Either, "yes", "no"]
  Key:
    Type: AWS::KMS::Key
    Condition: NoAlias
  Gone:
    Type: AWS::SNS::Topic
    Condition: IsProd
Outputs:
  BucketName:
    Value: !Ref Bucket
  BucketArn:
    Value: !GetAtt Bucket.Arn
  SubArn:
    Value: !Sub "${Key.Arn}"
"""


def resolver(parameters=None, physical=None):
    template = load_template(TEMPLATE)
    params = parameter_values(
        template, [{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()]
    )

    def get_att(logical_id, attribute, path):
        return f"arn:test:{logical_id}:{attribute}"

    return Resolver(
        template,
        params,
        {"AWS::Region": "eu-west-1", "AWS::AccountId": "111122223333"},
        physical_ids=physical or {"Bucket": "books-dev-111122223333", "Key": "key-id"},
        get_att=get_att,
    )


def test_short_and_long_forms_resolve_alike():
    props = resolver().resource_properties("Bucket")
    assert props["BucketName"] == "books-dev-111122223333"
    assert props["Arn"] == props["Long"] == "arn:test:Bucket:Arn"
    assert props["Joined"] == "dev-b-x"
    assert "Maybe" not in props
    assert props["List"] == ["one", "three"]
    assert props["Literal"] == "${NotAVar}-eu-west-1"
    assert props["WithVars"] == "30/arn:test:Bucket:Arn"
    assert props["Date"] == "2030-01-01"
    assert props["Flag"] == "up"
    assert props["Other"] == "no"


def test_conditions_follow_parameters():
    r = resolver({"Env": "prod", "Alias": "alias/x"})
    props = r.resource_properties("Bucket")
    assert props["Maybe"] == "yes"
    assert props["List"] == ["one", "two", "three"]
    assert r.resource_active("Gone") is True
    assert r.resource_active("Key") is False
    assert r.condition("NotProd") is False


def test_parameter_values_use_defaults_and_split_lists():
    template = load_template(TEMPLATE)
    values = parameter_values(template, [{"ParameterKey": "Env", "ParameterValue": "test"}])
    assert values == {"Env": "test", "Names": ["a", "b"], "Days": "30", "Alias": ""}


def test_resolved_value_of_ssm_parameters_wins():
    template = {"Parameters": {"P": {"Type": "AWS::SSM::Parameter::Value<String>"}}}
    values = parameter_values(template, [{"ParameterKey": "P", "ParameterValue": "/x", "ResolvedValue": "real"}])
    assert values == {"P": "real"}


def test_errors_name_the_path():
    r = resolver()
    with pytest.raises(TemplateResolutionError) as err:
        r.resolve({"Fn::Sub": "${Missing}"}, "Resources.X.Properties.Name")
    assert "Resources.X.Properties.Name" in str(err.value)
    assert "Missing" in str(err.value)


def test_ref_to_resource_without_condition_is_an_error():
    r = resolver()
    with pytest.raises(TemplateResolutionError) as err:
        r.resolve({"Ref": "Gone"}, "Outputs.T.Value")
    assert "condition is false" in str(err.value)


def test_ref_without_physical_id_is_an_error():
    r = resolver(physical={"Bucket": "b"})
    with pytest.raises(TemplateResolutionError) as err:
        r.resolve({"Ref": "Key"}, "P")
    assert "no physical id" in str(err.value)


def test_unknown_pseudo_parameter_and_unsupported_functions():
    r = resolver()
    with pytest.raises(TemplateResolutionError):
        r.resolve({"Ref": "AWS::StackName"}, "P")
    with pytest.raises(TemplateResolutionError) as err:
        r.resolve({"Fn::ImportValue": "x"}, "P")
    assert "ImportValue" in str(err.value)
    with pytest.raises(TemplateResolutionError):
        r.resolve({"Fn::GetAZs": ""}, "P")


def test_no_value_is_dropped_from_mappings():
    r = resolver()
    assert r.resolve({"A": {"Ref": "AWS::NoValue"}, "B": 1}, "P") == {"B": 1}
    assert r.resolve({"Ref": "AWS::NoValue"}, "P") is NO_VALUE


def test_json_templates_and_parsed_templates_load():
    assert load_template('{"Resources": {}}') == {"Resources": {}}
    assert load_template({"Resources": {"A": {"Type": "X"}}}) == {"Resources": {"A": {"Type": "X"}}}
    with pytest.raises(TemplateError):
        load_template("- just\n- a list\n")
    with pytest.raises(TemplateError):
        load_template("a: [unclosed\n")


def test_every_short_tag_parses():
    text = "\n".join(
        [
            "A: !Ref X",
            "B: !GetAtt X.Y.Z",
            "C: !GetAZs ''",
            "D: !ImportValue Name",
            "E: !Condition C",
            "F: !Base64 {Ref: X}",
            "G: !Cidr [a, 1, 2]",
        ]
    )
    data = load_template(text)
    assert data["A"] == {"Ref": "X"}
    assert data["B"] == {"Fn::GetAtt": ["X", "Y.Z"]}
    assert data["C"] == {"Fn::GetAZs": ""}
    assert data["D"] == {"Fn::ImportValue": "Name"}
    assert data["E"] == {"Condition": "C"}
    assert data["F"] == {"Fn::Base64": {"Ref": "X"}}
    assert data["G"] == {"Fn::Cidr": ["a", 1, 2]}


def test_referenced_logical_id():
    assert referenced_logical_id({"Ref": "A"}) == "A"
    assert referenced_logical_id({"Fn::GetAtt": ["B", "Arn"]}) == "B"
    assert referenced_logical_id({"Fn::GetAtt": "C.Arn"}) == "C"
    assert referenced_logical_id({"Fn::Sub": "${D.Arn}"}) == "D"
    assert referenced_logical_id({"Fn::Sub": "arn:${D}"}) is None
    assert referenced_logical_id("plain") is None


@pytest.mark.parametrize("function", [
    {"Fn::ToJsonString": {"a": "b"}}, {"Fn::Length": [1, 2]}, {"Fn::FindInMap": ["Sizes", "dev", "Memory"]},
    {"Fn::Base64": "hello"}, {"Fn::ImportValue": "export"}, {"Fn::GetAZs": ""}, {"Fn::Cidr": ["10.0.0.0/16", 1, 8]},
    {"Fn::And": [True, True]}])
def test_functions_the_template_does_not_use_fail_by_name(function):
    """The resolver evaluates what files/TapStack.yml uses, and names anything else instead of guessing."""
    (name,) = function
    with pytest.raises(TemplateResolutionError, match=f"{name} is not supported: this collection resolves only "):
        resolver().resolve({"Outer": function}, "P")


def test_the_real_template_uses_only_supported_functions():
    from pathlib import Path

    from ansible_collections.tap.ebook_storage.plugins.module_utils.cfn_template import INTRINSIC_KEYS, SUPPORTED

    body = (Path(__file__).resolve().parents[4] / "files" / "TapStack.yml").read_text()
    used = {name for name in INTRINSIC_KEYS if f"!{name.replace('Fn::', '')} " in body or f"{name}:" in body}
    assert used and used <= SUPPORTED, sorted(used - SUPPORTED)
