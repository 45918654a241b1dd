"""Runs MiniStack with AWS's replacement rules for the resource types of our templates that
MiniStack 1.5.33 has no table for, and with ListCertificates' summaries as AWS gives them.

MiniStack reports every changed property of such a type as `RequiresRecreation:
Conditionally` in a change set, so a bucket whose NotificationConfiguration changes shows
`Replacement: Conditional`, where AWS updates it with no interruption, and the controller
would hold the update as risky. The properties below are the ones the CloudFormation
template reference marks "Update requires: Replacement"; every other property of these
types then reports Never, as on AWS. Only the change-set report changes: MiniStack's own
update handlers are untouched. (README, "Emulators and their gaps".)

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

if __name__ == "__main__":
    from ministack.app import main
    sys.argv[0] = "ministack"
    sys.exit(main())
