"""Starts MiniStack on a free loopback port with signature and IAM checking on, for
the end-to-end tests and the demo.

MiniStack (AUTH=true) checks the SigV4 signature and the IAM policies of every request
made with an IAM user's key; the root key it is started with is not checked. So the
root key here is random, used once to create an IAM user with an allow-all policy, and
the user's key is what the controller gets: every request of ours is then checked.

Prints one JSON line {port, accessKeyId, secretAccessKey, account} on stdout, then runs
until it gets SIGTERM or SIGINT (or its parent's stdin closes), and stops MiniStack.
Only 127.0.0.1 is listened on: the extra listeners MiniStack would open (IoT mTLS,
SFTP) are turned off.
"""
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] != "0" else free_port()
    scratch = tempfile.mkdtemp(prefix="reconciler-ministack-")
    root_key, root_secret = "AKIAROOT" + secrets.token_hex(6).upper(), secrets.token_hex(20)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "GATEWAY_PORT": str(port), "BIND_HOST": "127.0.0.1", "MINISTACK_HOST": "127.0.0.1",
        "IOT_MTLS_ENABLED": "0", "SFTP_ENABLED": "0", "LAMBDA_EXECUTOR": "local", "AUTH": "true",
        "AWS_ACCESS_KEY_ID": root_key, "AWS_SECRET_ACCESS_KEY": root_secret,
        "TMPDIR": scratch, "S3_DATA_DIR": os.path.join(scratch, "s3"), "STATE_DIR": os.path.join(scratch, "state"),
        "LOG_LEVEL": os.environ.get("MINISTACK_LOG_LEVEL", "WARNING"),
    })
    log = open(os.path.join(scratch, "ministack.log"), "w")
    # The server runs in its own process group with the Lambda workers it starts, and is
    # killed when this launcher dies, even by SIGKILL (PR_SET_PDEATHSIG).
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    # MiniStack itself, with AWS's replacement rules where it has none (see that script).
    tables = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ministack_aws_tables.py")
    child = subprocess.Popen([sys.executable, tables], env=env,
                             stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                             preexec_fn=lambda: libc.prctl(1, signal.SIGKILL))

    def stop(*_):
        # MiniStack does not always leave on SIGTERM while Lambda workers run: the
        # whole group gets SIGTERM, then SIGKILL after two seconds. It keeps nothing.
        for sig, wait in ((signal.SIGTERM, 2), (signal.SIGKILL, 5)):
            try:
                os.killpg(child.pid, sig)
            except ProcessLookupError:
                break
            try:
                child.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        shutil.rmtree(scratch, ignore_errors=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(endpoint + "/_ministack/health", timeout=2).read()
            break
        except Exception:
            if child.poll() is not None or time.time() > deadline:
                log.flush()
                sys.stderr.write(open(os.path.join(scratch, "ministack.log")).read()[-4000:])
                sys.stderr.write(f"MiniStack did not answer on {endpoint}\n")
                stop()
            time.sleep(0.2)

    import boto3
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id=root_key, aws_secret_access_key=root_secret)
    iam.create_user(UserName="reconciler")
    iam.put_user_policy(UserName="reconciler", PolicyName="allow-all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="reconciler")["AccessKey"]
    account = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key["AccessKeyId"],
                           aws_secret_access_key=key["SecretAccessKey"]).get_caller_identity()["Account"]
    print(json.dumps({"port": port, "accessKeyId": key["AccessKeyId"], "secretAccessKey": key["SecretAccessKey"],
                      "account": account}), flush=True)
    while child.poll() is None:
        time.sleep(0.5)
    stop()


if __name__ == "__main__":
    main()
