"""Starts moto's server on loopback with SigV4 checking on, for tests and the demo.

Every request must be signed (INITIAL_NO_AUTH_ACTION_COUNT=0): the access key is
created inside the process before the server starts, so no unsigned request is
needed. Prints one JSON line {port, accessKeyId, secretAccessKey, roleArn, account}
on stdout, then serves until killed.

moto looks for Docker when a Lambda function exists (e.g. in /moto-api/data.json);
there is no Docker here, so the Docker client raises AttributeError, which moto
treats as "no Docker".
"""
import json
import os
import socket
import sys

os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = os.environ.get("INITIAL_NO_AUTH_ACTION_COUNT", "0")
os.environ.setdefault("MOTO_ACM_VALIDATION_WAIT", "2")

from moto.utilities import docker_utilities  # noqa: E402


def _no_docker(self):
    raise AttributeError("no Docker on this machine")


docker_utilities.DockerModel.docker_client = property(_no_docker)

# moto 5.x verifies a body-less request (e.g. Lambda GET) against its parsed
# parameters or headers instead of the empty body, so no correct signature can
# pass. Verify against the raw body bytes, as AWS does.
from moto.iam import access_control  # noqa: E402

_create_aws_request = access_control.IAMRequestBase._create_aws_request


def _create_aws_request_over_raw_body(self):
    if self._method in ("GET", "HEAD", "DELETE") and not self._body:
        saved = self._data
        self._data = b""
        try:
            return _create_aws_request(self)
        finally:
            self._data = saved
    return _create_aws_request(self)


access_control.IAMRequestBase._create_aws_request = _create_aws_request_over_raw_body

# AWS takes AssumeRoleWithWebIdentity unsigned (the token is the proof); moto with
# signature checking on demands a signature for it. Let it through unsigned, as AWS does.
from moto.core.authorization import ActionAuthenticatorMixin  # noqa: E402

_authenticate = ActionAuthenticatorMixin._authenticate_and_authorize_action


def _authenticate_unless_web_identity(self, iam_request_cls, resource="*"):
    if "Authorization" not in self.headers and self._get_action() == "AssumeRoleWithWebIdentity":
        return
    return _authenticate(self, iam_request_cls, resource)


ActionAuthenticatorMixin._authenticate_and_authorize_action = _authenticate_unless_web_identity

from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.iam.models import iam_backends  # noqa: E402
import moto.server  # noqa: E402


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    if port == 0:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    iam = iam_backends[DEFAULT_ACCOUNT_ID]["global"]
    iam.create_user("us-east-1", "reconciler-test")
    iam.put_user_policy("reconciler-test", "allow-all", json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key("reconciler-test")
    role = iam.create_role("reconciler-lambda", json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}),
        "/", None, "", [], None)
    # Roles for the credential tests: one the test user may assume, one for web identity
    # (OIDC). Both may do anything, so their sessions' requests pass moto's IAM check.
    allow_all = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    deploy = iam.create_role("reconciler-deploy", json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"AWS": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:user/reconciler-test"}}]}),
        "/", None, "", [], None)
    iam.put_role_policy("reconciler-deploy", "allow-all", allow_all)
    ci = iam.create_role("reconciler-ci", json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                                                 "Principal": {"Federated": "token.actions.githubusercontent.com"}}]}),
        "/", None, "", [], None)
    iam.put_role_policy("reconciler-ci", "allow-all", allow_all)
    print(json.dumps({"port": port, "accessKeyId": key.access_key_id, "secretAccessKey": key.secret_access_key,
                      "roleArn": role.arn, "deployRoleArn": deploy.arn, "webIdentityRoleArn": ci.arn,
                      "account": DEFAULT_ACCOUNT_ID}), flush=True)
    moto.server.main(["-H", "127.0.0.1", "-p", str(port)])


if __name__ == "__main__":
    main()
