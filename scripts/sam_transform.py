"""Runs AWS's SAM translator (aws-sam-translator, installed with cfn-lint) on one
rendered template and prints the CloudFormation template it becomes, as JSON.

Usage: sam_transform.py TEMPLATE.yaml [NAME=VALUE ...]
Parameters not given are passed as "". The templates the controller renders name
managed policies by ARN only, so no IAM lookup is needed.
"""
import json
import os
import sys

import yaml
from samtranslator.translator.transform import transform


class NoManagedPolicies:
    def load(self):
        return {}


def main():
    # The translator reads the region from a boto3 session; nothing is sent anywhere.
    os.environ["AWS_DEFAULT_REGION"] = "ap-south-1"
    with open(sys.argv[1]) as f:
        template = yaml.safe_load(f)
    values = {name: "" for name in template.get("Parameters", {})}
    values.update(arg.split("=", 1) for arg in sys.argv[2:])
    print(json.dumps(transform(template, values, NoManagedPolicies()), indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
