"""botocore's side of bench/sigv4, timed the same way as the Swift side.

  botocore_bench.py sign N
  botocore_bench.py request ENDPOINT KEY SECRET N
Prints one JSON object.
"""
import json
import sys
import time

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def sign(n):
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    start = time.perf_counter()
    for _ in range(n):
        request = AWSRequest(method="GET", url="https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/ApiFunction/aliases/prod",
                             headers={"Host": "lambda.eu-west-1.amazonaws.com"})
        SigV4Auth(credentials, "lambda", "eu-west-1").add_auth(request)
    elapsed = time.perf_counter() - start
    return {"signatures_per_second": n / elapsed}


def request(endpoint, key, secret, n):
    session = botocore.session.get_session()
    client = session.create_client("sts", region_name="eu-west-1", endpoint_url=endpoint,
                                   aws_access_key_id=key, aws_secret_access_key=secret)
    client.get_caller_identity()  # warm up
    times = []
    for _ in range(n):
        start = time.perf_counter()
        client.get_caller_identity()
        times.append(time.perf_counter() - start)
    times.sort()
    return {"median_ms": times[len(times) // 2] * 1000}


if __name__ == "__main__":
    if sys.argv[1] == "sign":
        print(json.dumps(sign(int(sys.argv[2]))))
    else:
        print(json.dumps(request(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))))
