"""The baseline: the same reads `reconciler plan` makes for the default desired state,
made one after another with boto3, as the original deploy tool did. Prints the number
of calls. Usage: boto3_sequential.py ENDPOINT ACCOUNT
"""
import sys

import boto3
import botocore.config

endpoint, account = sys.argv[1], sys.argv[2]
config = botocore.config.Config(retries={"max_attempts": 3, "mode": "standard"})
calls = 0


def client(service, region):
    return boto3.client(service, region_name=region, endpoint_url=endpoint, config=config)


def call(fn, **kw):
    global calls
    calls += 1
    try:
        return fn(**kw)
    except Exception:  # missing things are facts, as in the controller
        return {}


core = ["Api", "QueueModelMessageProcessor", "CognitoTrigger", "DzgroReportsS3Trigger", "RazorPayWebhook"]
ams = ["AmsChange", "AmsPerformance"]
regions = {
    "ap-south-1": {"stacks": ["Dzgro-core", "Dzgro-ams"], "functions": core + ams, "layers": ["common", "reports", "ams"],
                   "certificates": ["api.dzgro.com"], "cognito": True},
    "eu-west-1": {"stacks": ["Dzgro-ams"], "functions": ams, "layers": ["common", "ams"], "certificates": [], "cognito": False},
    "us-east-1": {"stacks": ["Dzgro-ams"], "functions": ams, "layers": ["common", "ams"], "certificates": ["auth.dzgro.com"], "cognito": False},
    "us-west-2": {"stacks": ["Dzgro-ams"], "functions": ams, "layers": ["common", "ams"], "certificates": [], "cognito": False},
}
call(client("sts", "ap-south-1").get_caller_identity)
for region, spec in regions.items():
    s3, cf, lam = client("s3", region), client("cloudformation", region), client("lambda", region)
    call(s3.head_bucket, Bucket=f"dzgro-artifacts-{account}-{region}")
    for stack in spec["stacks"]:
        call(cf.describe_stacks, StackName=stack)
    for function in spec["functions"]:
        call(lam.list_aliases, FunctionName=f"{function}Function")
    for layer in spec["layers"]:
        call(lam.list_layer_versions, LayerName=f"Dzgro-{layer}")
    if spec["certificates"]:
        acm = client("acm", region)
        for summary in call(acm.list_certificates).get("CertificateSummaryList", []):
            if summary["DomainName"] in spec["certificates"]:
                call(acm.describe_certificate, CertificateArn=summary["CertificateArn"])
    if spec["cognito"]:
        idp = client("cognito-idp", region)
        call(idp.list_user_pools, MaxResults=60)
        for domain in ["auth.dev.dzgro.com", "auth.staging.dzgro.com", "auth.dzgro.com"]:
            call(idp.describe_user_pool_domain, Domain=domain)
        # Each API custom domain's mappings (the controller maps them itself).
        api = client("apigatewayv2", region)
        for domain in ["api.dev.dzgro.com", "api.staging.dzgro.com", "api.dzgro.com"]:
            call(api.get_api_mappings, DomainName=domain)
print(calls)
