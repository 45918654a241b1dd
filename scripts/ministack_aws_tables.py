"""Runs MiniStack with AWS's replacement rules for the resource types of our templates that
MiniStack 1.5.33 has no table for, and with ListCertificates' summaries as AWS gives them.

MiniStack reports every changed property of such a type as `RequiresRecreation:
Conditionally` in a change set, so a bucket whose NotificationConfiguration changes shows
`Replacement: Conditional`, where AWS updates it with no interruption, and the controller
would hold the update as risky. The properties below are the ones the CloudFormation
template reference marks "Update requires: Replacement"; every other property of these
types then reports Never, as on AWS. Only the change-set report changes: MiniStack's own
update handlers are untouched. (README, "Emulators and their gaps".)

DescribeStackResources by PhysicalResourceId, which MiniStack does not serve, answers as on
AWS (below).

MiniStack's ListCertificates summary has the ARN, domain name and status only. AWS's also has
SubjectAlternativeNameSummaries (the domain name first), HasAdditionalSubjectAlternativeNames
and NotAfter, which tell the controller an issued certificate needs no DescribeCertificate.
They are added here from the certificate MiniStack describes.
"""
import json
import sys

from ministack.services import acm
from ministack.services.cloudformation import provisioners

AWS_REPLACING_PROPERTIES = {
    "AWS::S3::Bucket": ("BucketName",),
    "AWS::Cognito::UserPoolClient": ("UserPoolId", "GenerateSecret"),
    "AWS::Lambda::Alias": ("FunctionName", "Name"),
    "AWS::Lambda::EventSourceMapping": ("EventSourceArn", "StartingPosition", "StartingPositionTimestamp", "SelfManagedEventSource"),
    "AWS::Lambda::Permission": ("Action", "EventSourceToken", "FunctionName", "FunctionUrlAuthType", "Principal",
                                "PrincipalOrgID", "SourceAccount", "SourceArn"),
}

for resource_type, properties in AWS_REPLACING_PROPERTIES.items():
    provisioners._REPLACING_PROPERTIES.setdefault(resource_type, properties)

_list_certificates = acm._list_certificates


def _list_certificates_as_aws(data):
    status, headers, body = _list_certificates(data)
    if status != 200:
        return status, headers, body
    answer = json.loads(body)
    for summary in answer.get("CertificateSummaryList", []):
        described = json.loads(acm._describe_certificate({"CertificateArn": summary["CertificateArn"]})[2])["Certificate"]
        names = described.get("SubjectAlternativeNames") or [described["DomainName"]]
        summary.update(SubjectAlternativeNameSummaries=names[:100], HasAdditionalSubjectAlternativeNames=len(names) > 100)
        if described.get("Status") == "ISSUED" and "NotAfter" in described:
            summary["NotAfter"] = described["NotAfter"]
    return status, headers, json.dumps(answer).encode("utf-8")


acm._list_certificates = _list_certificates_as_aws

# DescribeStackResources with PhysicalResourceId (and no StackName) answers, on AWS, the
# resources of the stack holding that physical resource, or "Stack for <id> does not exist"
# when no stack holds it. MiniStack 1.5.33 requires StackName; the controller asks AWS's way
# when it looks for the stack an existing bucket, queue or pool belongs to (adoption).
from ministack.services import sqs as _sqs
from ministack.services.cloudformation import _stacks, handlers

_describe_stack_resources = handlers._describe_stack_resources


def _same_physical(resource_type, held, asked):
    if resource_type == "AWS::SQS::Queue":
        return _sqs._queue_ref_from_urlish(held) == _sqs._queue_ref_from_urlish(asked)
    return held == asked


def _describe_stack_resources_as_aws(params):
    physical = handlers._p(params, "PhysicalResourceId")
    if not physical or handlers._p(params, "StackName"):
        return _describe_stack_resources(params)
    for stack in list(_stacks.values()):
        if stack.get("StackStatus") == "DELETE_COMPLETE":
            continue
        for resource in stack.get("_resources", {}).values():
            held = resource.get("PhysicalResourceId")
            if held and _same_physical(resource.get("ResourceType"), held, physical):
                return _describe_stack_resources({"StackName": [stack["StackName"]]})
    return handlers._error("ValidationError", f"Stack for {physical} does not exist")


handlers._describe_stack_resources = _describe_stack_resources_as_aws
handlers._ACTION_HANDLERS["DescribeStackResources"] = _describe_stack_resources_as_aws

if __name__ == "__main__":
    from ministack.app import main
    sys.argv[0] = "ministack"
    sys.exit(main())
