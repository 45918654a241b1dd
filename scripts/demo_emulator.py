"""Demo helper: what moto's CloudFormation cannot create, created directly.

moto cannot run SAM (AWS::Serverless::Function), Lambda aliases or Cognito through
CloudFormation, so the stacks the demo deploys hold only queues and buckets. The
release steps need what the real stacks would have made: the Lambda functions with a
published version 1 and their dev/staging/prod aliases, and the Cognito user pools.
`seed` makes exactly those through the service APIs, and says so; it also verifies the
approval mail's sender in SES, as an account owner does once. `deploy` stands in for a
build of new code: every function gets a new published version and dev moves to it.
`summary` prints what is in the emulator afterwards. `mail` prints the last approval
mail with its code masked (to stderr) and the code alone (to stdout), as a person reads
their mailbox.

Usage: demo_emulator.py seed|deploy|summary ENDPOINT ACCESS_KEY SECRET_KEY ROLE_ARN DESIRED_STATE_DIR [SENDER SES_REGION]
       demo_emulator.py mail ENDPOINT
"""
import json
import urllib.request
import io
import os
import sys
import zipfile

import boto3
import yaml


def load(directory):
    def read(name):
        with open(os.path.join(directory, name)) as f:
            return yaml.safe_load(f)
    project = read("project.yaml")
    functions = read("functions.yaml")["functions"]
    regions = {fs: spec["regions"] for fs, spec in project["featureSets"].items()}
    cognito = read("cognito.yaml").get("cognito") if os.path.exists(os.path.join(directory, "cognito.yaml")) else None
    return project, functions, regions, cognito


def clients(endpoint, key, secret):
    def make(service, region):
        return boto3.client(service, region_name=region, endpoint_url=endpoint,
                            aws_access_key_id=key, aws_secret_access_key=secret)
    return make


def seed(make, role, directory):
    project, functions, regions, cognito = load(directory)
    envs = [name for name, spec in project["environments"].items() if spec.get("alias") != "none"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    code = buf.getvalue()
    count = 0
    for name, spec in functions.items():
        for region in regions[spec["featureSet"]]:
            lam = make("lambda", region)
            fn = f"{name}Function"
            lam.create_function(FunctionName=fn, Runtime="python3.12", Role=role, Handler="handler.handler",
                                Code={"ZipFile": code}, Description="demo stand-in (emulator)")
            version = lam.publish_version(FunctionName=fn)["Version"]
            for env in envs:
                lam.create_alias(FunctionName=fn, Name=env, FunctionVersion=version)
            count += 1
    print(f"[emulator stand-in] created {count} Lambda functions directly (version 1; aliases {', '.join(envs)} → 1), "
          "because moto's CloudFormation cannot run AWS::Serverless::Function or AWS::Lambda::Alias")
    if cognito:
        region = regions[cognito["featureSet"]][0]
        idp = make("cognito-idp", region)
        for env in envs:
            idp.create_user_pool(PoolName=f"{project['project']}UserPool{env.title()}")
        print(f"[emulator stand-in] created {len(envs)} Cognito user pools in {region} directly, "
              "because moto's CloudFormation cannot create AWS::Cognito::UserPool")


def verify_sender(make, sender, region):
    make("ses", region).verify_email_identity(EmailAddress=sender)
    print(f"[emulator stand-in] verified {sender} as an SES sender in {region} (done once per account)")


def deploy(make, directory):
    project, functions, regions, _ = load(directory)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return {'build': 2}\n")
    versions = set()
    count = 0
    for name, spec in functions.items():
        for region in regions[spec["featureSet"]]:
            lam = make("lambda", region)
            fn = f"{name}Function"
            lam.update_function_code(FunctionName=fn, ZipFile=buf.getvalue())
            version = lam.publish_version(FunctionName=fn)["Version"]
            lam.update_alias(FunctionName=fn, Name="dev", FunctionVersion=version)
            versions.add(version)
            count += 1
    print(f"[emulator stand-in] new code for {count} functions: published version {', '.join(sorted(versions))} and moved dev to it, "
          "as the stacks' AutoPublishAlias does on a real deployment")


def mail(endpoint):
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json") as response:
        messages = json.load(response).get("ses", {}).get("Message", [])
    if not messages:
        sys.exit("no mail in the emulator's outbox")
    last = messages[-1]
    code = None
    lines = []
    for line in last["body"].splitlines():
        if line.startswith("One-time password: "):
            code = line.split(": ", 1)[1]
        lines.append(line.replace(code, "******") if code and code in line else line)
    to = last["destinations"]
    to = to.get("ToAddresses", []) if isinstance(to, dict) else to
    print(f"    To: {', '.join(to)}\n    Subject: {last['subject']}\n", file=sys.stderr)
    print("\n".join("    " + l for l in lines), file=sys.stderr)
    print(code)


def summary(make, directory):
    project, functions, regions, cognito = load(directory)
    all_regions = sorted({r for rs in regions.values() for r in rs})
    name = project["project"]
    for region in all_regions:
        cf = make("cloudformation", region)
        stacks = [f"{s['StackName']} {s['StackStatus']}" for s in cf.describe_stacks()["Stacks"]]
        queues = make("sqs", region).list_queues().get("QueueUrls", [])
        lam = make("lambda", region)
        layers = []
        for layer in lam.list_layers().get("Layers", []):
            layers.append(f"{layer['LayerName']} v{layer['LatestMatchingVersion']['Version']}")
        certs = [f"{c['DomainName']} {c.get('Status', '?')}" for c in make("acm", region).list_certificates()["CertificateSummaryList"]]
        print(f"  {region}: stacks [{', '.join(stacks)}]; {len(queues)} queues; layers [{', '.join(layers)}]"
              + (f"; certificates [{', '.join(certs)}]" if certs else ""))
    buckets = [b["Name"] for b in make("s3", all_regions[0]).list_buckets()["Buckets"]]
    local = [b for b in buckets if b.endswith("-local")]
    print(f"  buckets: {len(buckets)} ({len([b for b in buckets if '-artifacts-' in b])} artifact buckets; local environment: {', '.join(local)})")
    if cognito:
        region = regions[cognito["featureSet"]][0]
        idp = make("cognito-idp", region)
        domains = []
        for env in [e for e, s in project["environments"].items() if s.get("alias") != "none"] + ["apex"]:
            domain = f"auth.{env}.{project['domains']['base']}" if env != "apex" else f"auth.{project['domains']['base']}"
            d = idp.describe_user_pool_domain(Domain=domain).get("DomainDescription", {})
            if d.get("Status"):
                domains.append(f"{domain} {d['Status']}")
        print(f"  cognito domains ({region}): {', '.join(domains)}")


if __name__ == "__main__":
    if sys.argv[1] == "mail":
        mail(sys.argv[2])
        sys.exit(0)
    command, endpoint, key, secret, role, directory = sys.argv[1:7]
    make = clients(endpoint, key, secret)
    if command == "seed":
        seed(make, role, directory)
        if len(sys.argv) > 8:
            verify_sender(make, sys.argv[7], sys.argv[8])
    elif command == "deploy":
        deploy(make, directory)
    else:
        summary(make, directory)
