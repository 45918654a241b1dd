"""The test harness's and the demo's own client to MiniStack: what is deployed, Lambda
invocations, the account set-up a person does once, and the emulator's outbox. It is
not the controller's view: it uses boto3 (installed with the emulators).

Usage (the IAM user's key in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, never on the
command line):
  emulator_client.py state ENDPOINT REGION...      JSON: functions and aliases, event source
                                                    mappings, bucket notifications, user pools
                                                    and their triggers, HTTP APIs, domains, layers
  emulator_client.py invoke ENDPOINT REGION FUNCTION QUALIFIER [PAYLOAD]
                                                    JSON: {executedVersion, error, payload}
  emulator_client.py invoke-aliases ENDPOINT REGION...
                                                    JSON: every alias of every function invoked
                                                    with an empty event: [{region, function, alias,
                                                    aliasVersion, executedVersion, error, payload}]
  emulator_client.py summary ENDPOINT REGION...    the same as `state`, for a person
  emulator_client.py mail ENDPOINT                 prints the last mail to stderr with its
                                                    one-time password masked; the code to stdout
  emulator_client.py verify-sender ENDPOINT REGION ADDRESS
                                                    verifies a sender address in SES (on AWS the
                                                    address's owner does it once per account)
  emulator_client.py old-deployment ENDPOINT REGION
                                                    the deployment a team runs before moving in: a
                                                    bucket with an object and dev's and staging's
                                                    queues with a message each outside any stack,
                                                    and stack dzgro-dev holding the
                                                    dev user pool (with a user), its client, a queue
                                                    (with a message) and one queue of its own
  emulator_client.py pool ENDPOINT REGION create NAME | delete ID
                                                    a user pool outside any stack (prints its id), or
                                                    deletes one
  emulator_client.py oauth-code ENDPOINT REGION POOL_NAME CLIENT_NAME REDIRECT_URI
                                                    a person signs in at the hosted login with the
                                                    authorization-code flow (a user made for it):
                                                    JSON {status, redirect, token: the token response
                                                    with every token masked}
  emulator_client.py inventory ENDPOINT REGION      JSON: that deployment's data (objects, messages,
                                                    users) and the stack holding each resource
  emulator_client.py shared-state ENDPOINT REGION BUCKET PREFIX
                                                    what a team sets up once for a shared state: the
                                                    bucket (versioned, SSE-KMS by default), an HMAC_256
                                                    KMS key with alias/reconciler-approvals, and two
                                                    IAM users for approving from a laptop: "approver"
                                                    (the prefix, the key, the aliases) and "no-verify"
                                                    (the same without kms:VerifyMac). JSON: their keys
  emulator_client.py users ENDPOINT NAME:ROLE...    IAM users of a team, each with an access key. ROLE
                                                    "deployer": everything (runs apply); "approver":
                                                    the alias calls and mail that `approve` makes.
                                                    JSON: {name: {accessKeyId, secretAccessKey, arn}}
  emulator_client.py alarm ENDPOINT NAME STATE REGION...
                                                    creates the metric alarm NAME (the team's, on a
                                                    metric of its own) where missing and sets its
                                                    state (OK or ALARM) in each region
"""
import json
import os
import sys
import urllib.request

import boto3


def client(service, endpoint, region):
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"])


def region_state(endpoint, region):
    lam = client("lambda", endpoint, region)
    functions = {}
    for function in lam.list_functions()["Functions"]:
        name = function["FunctionName"]
        functions[name] = {
            "aliases": {a["Name"]: {"version": a["FunctionVersion"],
                                    "weights": (a.get("RoutingConfig") or {}).get("AdditionalVersionWeights", {})}
                        for a in lam.list_aliases(FunctionName=name)["Aliases"]},
            "versions": sorted(int(v["Version"]) for v in lam.list_versions_by_function(FunctionName=name)["Versions"]
                               if v["Version"] != "$LATEST"),
        }
    mappings = [{"function": m["FunctionArn"].split(":function:")[1], "queue": m["EventSourceArn"].rsplit(":", 1)[1]}
                for m in lam.list_event_source_mappings()["EventSourceMappings"]]
    layers = {layer["LayerName"]: [v["Version"] for v in lam.list_layer_versions(LayerName=layer["LayerName"])["LayerVersions"]]
              for layer in lam.list_layers()["Layers"]}
    sqs = client("sqs", endpoint, region)
    queues = sorted(url.rsplit("/", 1)[1] for url in sqs.list_queues().get("QueueUrls", []))
    s3 = client("s3", endpoint, region)
    buckets = {}
    for bucket in s3.list_buckets()["Buckets"]:
        name = bucket["Name"]
        # S3 reports no location constraint for us-east-1.
        if (s3.get_bucket_location(Bucket=name).get("LocationConstraint") or "us-east-1") != region:
            continue
        notifications = s3.get_bucket_notification_configuration(Bucket=name).get("LambdaFunctionConfigurations", [])
        buckets[name] = [n["LambdaFunctionArn"].split(":function:")[1] for n in notifications]
    cognito = client("cognito-idp", endpoint, region)
    pools = {}
    for pool in cognito.list_user_pools(MaxResults=60)["UserPools"]:
        config = cognito.describe_user_pool(UserPoolId=pool["Id"])["UserPool"].get("LambdaConfig", {})
        pools[pool["Name"]] = {trigger: arn.split(":function:")[1] for trigger, arn in config.items() if isinstance(arn, str)}
    api = client("apigatewayv2", endpoint, region)
    apis = {}
    for item in api.get_apis()["Items"]:
        apis[item["Name"]] = {
            "stages": {s["StageName"]: s.get("StageVariables", {}) for s in api.get_stages(ApiId=item["ApiId"])["Items"]},
            "integrations": sorted(i.get("IntegrationUri", "").split(":function:")[-1] for i in api.get_integrations(ApiId=item["ApiId"])["Items"]),
            "routes": sorted(r["RouteKey"] for r in api.get_routes(ApiId=item["ApiId"])["Items"]),
        }
    domains = {d["DomainName"]: [m["Stage"] for m in api.get_api_mappings(DomainName=d["DomainName"])["Items"]]
               for d in api.get_domain_names()["Items"]}
    return {"functions": functions, "mappings": mappings, "layers": layers, "queues": queues, "buckets": buckets,
            "userPools": pools, "apis": apis, "domains": domains}


def shared_state(endpoint, region, bucket, prefix):
    s3 = client("s3", endpoint, region)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    kms = client("kms", endpoint, region)
    storage = kms.create_key(Description="reconciler state bucket")["KeyMetadata"]["KeyId"]
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": storage}}]})
    key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC", Description="reconciler approvals")["KeyMetadata"]
    kms.create_alias(AliasName="alias/reconciler-approvals", TargetKeyId=key["KeyId"])
    alias_arn = key["Arn"].split(":key/")[0] + ":alias/reconciler-approvals"
    account = key["Arn"].split(":")[4]
    iam = client("iam", endpoint, "us-east-1")
    users = {}
    for name, mac_actions in (("approver", ["kms:GenerateMac", "kms:VerifyMac"]), ("no-verify", ["kms:GenerateMac"])):
        statements = [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"arn:aws:s3:::{bucket}/{prefix}*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
            {"Effect": "Allow", "Action": ["s3:GetBucketVersioning", "s3:GetEncryptionConfiguration"], "Resource": f"arn:aws:s3:::{bucket}"},
            # MiniStack checks a call made through alias/... against the alias's ARN (AWS: the key's).
            {"Effect": "Allow", "Action": mac_actions, "Resource": [key["Arn"], alias_arn]},
            # MiniStack checks every alias call as lambda:ListAliases (AWS: GetAlias, UpdateAlias).
            {"Effect": "Allow", "Action": ["lambda:GetAlias", "lambda:UpdateAlias", "lambda:ListAliases"],
             "Resource": f"arn:aws:lambda:*:{account}:function:*"},
        ]
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="approve-from-a-laptop",
                            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
        access = iam.create_access_key(UserName=name)["AccessKey"]
        users[name] = {"accessKeyId": access["AccessKeyId"], "secretAccessKey": access["SecretAccessKey"]}
    return {"keyArn": key["Arn"], "users": users}


def users(endpoint, specs):
    iam = client("iam", endpoint, "us-east-1")
    account = client("sts", endpoint, "us-east-1").get_caller_identity()["Account"]
    approve = [
        # MiniStack checks every alias call as lambda:ListAliases (AWS: GetAlias, UpdateAlias).
        {"Effect": "Allow", "Action": ["lambda:GetAlias", "lambda:UpdateAlias", "lambda:ListAliases"],
         "Resource": f"arn:aws:lambda:*:{account}:function:*"},
        # The next confirmation's code is mailed by the approver who confirmed.
        {"Effect": "Allow", "Action": ["ses:SendEmail"], "Resource": "*"},
    ]
    result = {}
    for spec in specs:
        name, role = spec.split(":")
        statements = [{"Effect": "Allow", "Action": "*", "Resource": "*"}] if role == "deployer" else approve
        created = iam.create_user(UserName=name)["User"]
        iam.put_user_policy(UserName=name, PolicyName=role, PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
        access = iam.create_access_key(UserName=name)["AccessKey"]
        result[name] = {"accessKeyId": access["AccessKeyId"], "secretAccessKey": access["SecretAccessKey"], "arn": created["Arn"]}
    return result


def invoke(endpoint, region, function, qualifier, payload="{}"):
    response = client("lambda", endpoint, region).invoke(FunctionName=function, Qualifier=qualifier, Payload=payload.encode())
    body = response["Payload"].read().decode()
    return {"executedVersion": response.get("ExecutedVersion"), "error": response.get("FunctionError"), "payload": body}


def invoke_aliases(endpoint, regions):
    results = []
    for region in regions:
        lam = client("lambda", endpoint, region)
        for function in lam.list_functions()["Functions"]:
            name = function["FunctionName"]
            for alias in lam.list_aliases(FunctionName=name)["Aliases"]:
                result = invoke(endpoint, region, name, alias["Name"])
                results.append({"region": region, "function": name, "alias": alias["Name"],
                                "aliasVersion": alias["FunctionVersion"], **result})
    return results


def summary(endpoint, regions):
    for region in regions:
        state = region_state(endpoint, region)
        print(f"{region}:")
        for name, function in sorted(state["functions"].items()):
            aliases = ", ".join(f"{a} → {v['version']}" + (f" (+{v['weights']})" if v["weights"] else "")
                                for a, v in sorted(function["aliases"].items()))
            print(f"  function {name}: versions {function['versions']}; aliases {aliases}")
        print(f"  queues: {len(state['queues'])}; event source mappings: {len(state['mappings'])} "
              f"(each on its environment's alias: {', '.join(sorted({m['function'].split(':')[-1] for m in state['mappings']}))})")
        for bucket, targets in sorted(state["buckets"].items()):
            if targets:
                print(f"  bucket {bucket} notifies {', '.join(targets)}")
        for pool, triggers in sorted(state["userPools"].items()):
            print(f"  user pool {pool}: " + ", ".join(f"{t} → {f}" for t, f in sorted(triggers.items())))
        for name, api in sorted(state["apis"].items()):
            print(f"  HTTP API {name}: stages " + ", ".join(f"{s} (LambdaAlias={v.get('LambdaAlias')})" for s, v in sorted(api["stages"].items()))
                  + f"; routes {', '.join(api['routes'])}")
        for domain, stages in sorted(state["domains"].items()):
            print(f"  domain {domain} → stage {', '.join(stages)}")
        print("  layers: " + ", ".join(f"{n} {v}" for n, v in sorted(state["layers"].items())))


def mail(endpoint):
    with urllib.request.urlopen(endpoint + "/_ministack/ses/messages", timeout=10) as response:
        outbox = json.load(response)
    messages = sorted((m for ms in outbox.get("messages", {}).values() for m in ms), key=lambda m: m.get("Timestamp", 0))
    if not messages:
        sys.exit("no mail in the emulator's outbox")
    last = messages[-1]
    body = last.get("BodyText", "")
    code = next((line.split(": ", 1)[1].strip() for line in body.splitlines() if line.startswith("One-time password: ")), "")
    sys.stderr.write(f"From: {last['Source']}\nTo: {', '.join(last.get('To', []))}\nSubject: {last.get('Subject', '')}\n\n")
    sys.stderr.write((body.replace(code, "••••••") if code else body) + "\n")
    print(code)


# The earlier deployment's stack, written as people write templates (short tags), with
# outputs that read the resources a move takes away.
OLD_STACK = """AWSTemplateFormatVersion: '2010-09-09'
Description: the deployment before reconciler
Resources:
  UserPool:
    Type: AWS::Cognito::UserPool
    Properties:
      UserPoolName: DzgroUserPoolDev
      UsernameAttributes: [email]
      AutoVerifiedAttributes: [email]
  WebClient:
    Type: AWS::Cognito::UserPoolClient
    Properties:
      ClientName: DzgroWebClientDev
      UserPoolId: !Ref UserPool
      GenerateSecret: false
  AmazonQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: AmazonReportsQDev
  LegacyQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: LegacyJobsDev
      Tags:
        - Key: Reads
          Value: !GetAtt AmazonQueue.QueueName
Outputs:
  PoolArn:
    Value: !GetAtt UserPool.Arn
  AmazonUrl:
    Value: !Ref AmazonQueue
  AmazonArn:
    Value: !Sub "${AmazonQueue.Arn}/from-${AWS::Region}"
"""

OLD_DATA = {"bucket": "dzgro-reports-dev", "object": "reports/2026/old.csv", "queues": ["DzgroReportsQDev", "DzgroReportsQStaging", "AmazonReportsQDev"],
            "pool": "DzgroUserPoolDev", "user": "ops@dzgro.test"}


def old_deployment(endpoint, region):
    s3, sqs = client("s3", endpoint, region), client("sqs", endpoint, region)
    s3.create_bucket(Bucket=OLD_DATA["bucket"], CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_object(Bucket=OLD_DATA["bucket"], Key=OLD_DATA["object"], Body=b"order,amount\n1,100\n")
    sqs.create_queue(QueueName="DzgroReportsQDev", Attributes={"VisibilityTimeout": "30"})
    sqs.create_queue(QueueName="DzgroReportsQStaging")
    cfn = client("cloudformation", endpoint, region)
    cfn.create_stack(StackName="dzgro-dev", TemplateBody=OLD_STACK)
    cfn.get_waiter("stack_create_complete").wait(StackName="dzgro-dev", WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    for name in OLD_DATA["queues"]:
        sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"], MessageBody=f"kept in {name}")
    idp = client("cognito-idp", endpoint, region)
    pool = next(p["Id"] for p in idp.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == OLD_DATA["pool"])
    idp.admin_create_user(UserPoolId=pool, Username=OLD_DATA["user"], UserAttributes=[{"Name": "email", "Value": OLD_DATA["user"]}],
                          MessageAction="SUPPRESS")


def inventory(endpoint, region):
    s3, sqs = client("s3", endpoint, region), client("sqs", endpoint, region)
    idp, cfn = client("cognito-idp", endpoint, region), client("cloudformation", endpoint, region)
    owners = {}
    for stack in cfn.list_stacks()["StackSummaries"]:
        if stack["StackStatus"] != "DELETE_COMPLETE":
            for resource in cfn.list_stack_resources(StackName=stack["StackName"])["StackResourceSummaries"]:
                owners[resource.get("PhysicalResourceId", "")] = stack["StackName"]
    queues = {}
    for name in OLD_DATA["queues"]:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        queues[name] = {"messages": int(attributes.get("ApproximateNumberOfMessages", 0)) + int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
                        "visibilityTimeout": attributes.get("VisibilityTimeout"),
                        "stack": next((stack for physical, stack in owners.items() if physical.endswith("/" + name)), None)}
    pools = [p["Id"] for p in idp.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == OLD_DATA["pool"]]
    users = {pool: [next((a["Value"] for a in u.get("Attributes", []) if a["Name"] == "email"), u["Username"])
                   for u in idp.list_users(UserPoolId=pool)["Users"]] for pool in pools}
    objects = [o["Key"] for o in s3.list_objects_v2(Bucket=OLD_DATA["bucket"]).get("Contents", [])]
    return {"objects": objects, "bucketStack": owners.get(OLD_DATA["bucket"]), "queues": queues, "pools": users,
            "poolStacks": {pool: owners.get(pool) for pool in pools}}


def oauth_code(endpoint, region, pool_name, client_name, redirect_uri):
    """Authorization code flow through the hosted login, as a browser would run it."""
    import http.client
    import secrets
    import urllib.parse
    idp = client("cognito-idp", endpoint, region)
    pool = next(p["Id"] for p in idp.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == pool_name)
    app = next(c["ClientId"] for c in idp.list_user_pool_clients(UserPoolId=pool, MaxResults=60)["UserPoolClients"] if c["ClientName"] == client_name)
    user, password = "signin@dzgro.test", "Aa1" + secrets.token_hex(8)
    idp.admin_create_user(UserPoolId=pool, Username=user, UserAttributes=[{"Name": "email", "Value": user}], MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool, Username=user, Password=password, Permanent=True)
    host = urllib.parse.urlparse(endpoint)
    state = secrets.token_hex(8)

    def request(method, path, body=None):
        connection = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()

    query = urllib.parse.urlencode({"response_type": "code", "client_id": app, "redirect_uri": redirect_uri, "scope": "openid email", "state": state})
    status, _, page = request("GET", f"/oauth2/authorize?{query}")
    if status != 200 or 'action="/login"' not in page:
        sys.exit(f"the hosted login page did not come: {status}")
    form = dict(__import__("re").findall(r'name="([a-z_]+)" value="([^"]*)"', page))
    form.update({"username": user, "password": password})
    status, headers, _ = request("POST", "/login", urllib.parse.urlencode(form))
    location = headers.get("Location") or headers.get("location") or ""
    returned = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
    if not location.startswith(redirect_uri) or returned.get("state") != [state] or "code" not in returned:
        sys.exit(f"the sign-in did not send the browser back with a code: {status} {location[:80]}")
    token = urllib.parse.urlencode({"grant_type": "authorization_code", "client_id": app, "code": returned["code"][0], "redirect_uri": redirect_uri})
    status, _, answer = request("POST", "/oauth2/token", token)
    tokens = json.loads(answer)
    masked = {key: (str(value)[:6] + "…" if key.endswith("_token") else str(value)) for key, value in tokens.items()}
    print(json.dumps({"status": status, "redirect": location.split("?")[0], "token": masked}, sort_keys=True))


def main():
    command, endpoint = sys.argv[1], sys.argv[2]
    if command == "state":
        print(json.dumps({region: region_state(endpoint, region) for region in sys.argv[3:]}, sort_keys=True))
    elif command == "invoke":
        print(json.dumps(invoke(endpoint, *sys.argv[3:7], *(sys.argv[7:8] or []))))
    elif command == "invoke-aliases":
        print(json.dumps(invoke_aliases(endpoint, sys.argv[3:])))
    elif command == "summary":
        summary(endpoint, sys.argv[3:])
    elif command == "mail":
        mail(endpoint)
    elif command == "alarm":
        name, state = sys.argv[3], sys.argv[4]
        for region in sys.argv[5:]:
            cloudwatch = client("cloudwatch", endpoint, region)
            if not cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]:
                cloudwatch.put_metric_alarm(AlarmName=name, Namespace="Dzgro/Release", MetricName="Errors", Statistic="Sum", Period=60,
                                            EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold")
            cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="set by the demo")
    elif command == "old-deployment":
        old_deployment(endpoint, sys.argv[3])
    elif command == "pool":
        idp = client("cognito-idp", endpoint, sys.argv[3])
        if sys.argv[4] == "create":
            print(idp.create_user_pool(PoolName=sys.argv[5])["UserPool"]["Id"])
        else:
            idp.delete_user_pool(UserPoolId=sys.argv[5])
    elif command == "oauth-code":
        oauth_code(endpoint, *sys.argv[3:7])
    elif command == "inventory":
        print(json.dumps(inventory(endpoint, sys.argv[3]), sort_keys=True))
    elif command == "shared-state":
        print(json.dumps(shared_state(endpoint, *sys.argv[3:6])))
    elif command == "users":
        print(json.dumps(users(endpoint, sys.argv[3:])))
    elif command == "verify-sender":
        client("ses", endpoint, sys.argv[3]).verify_email_identity(EmailAddress=sys.argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
