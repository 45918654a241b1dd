"""Runs MiniStack with AWS's replacement rules for the resource types of our templates that
MiniStack 1.5.33 has no table for.

MiniStack reports every changed property of such a type as `RequiresRecreation:
Conditionally` in a change set, so a bucket whose NotificationConfiguration changes shows
`Replacement: Conditional`, where AWS updates it with no interruption, and the controller
would hold the update as risky. The properties below are the ones the CloudFormation
template reference marks "Update requires: Replacement"; every other property of these
types then reports Never, as on AWS. Only the change-set report changes: MiniStack's own
update handlers are untouched. (README, "Emulators and their gaps".)
"""
import sys

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

if __name__ == "__main__":
    from ministack.app import main
    sys.argv[0] = "ministack"
    sys.exit(main())
