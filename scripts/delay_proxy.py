"""Loopback HTTP proxy that adds a fixed delay to every request before forwarding it
to the emulator, like the round trip to a distant AWS region. Headers (Host included)
pass unchanged, so signatures still verify. Prints {"port": N} and serves until killed;
GET /__calls answers the number of requests forwarded, by region (from the signature scope);
GET /__requests the method, region and path of every request forwarded, in order;
GET /__timeline each forwarded request as [arrived, answered, "METHOD region path", "service region"] (seconds
on the proxy's monotonic clock), from which the benchmarks read the critical path: the
longest chain of requests each sent after the previous one was answered. DELETE on any of
the three clears what it reports. The benchmarks
use it for latency; the daemon tests also stop and restart it on the same port, to take
the "cloud" away and bring it back while the emulator keeps its state.

With THROTTLE_RPS set, it answers as AWS does beyond a service's rate: each service in each
region (from the signature scope) gets that many requests per second (a token bucket holding
one second's worth); a request beyond it is refused with the service's throttling error (429
TooManyRequestsException for Lambda, ThrottlingException for JSON services, Throttling for
query services, 503 SlowDown for S3), counted in GET /__throttled.

With IGNORE_PRECONDITIONS set, it plays an S3-compatible store that does not honour
conditional writes: a PUT the emulator refuses with 412 is answered 200 (with a made-up
ETag) as if it had been written, which the shared state's start-up check must refuse.

Usage: delay_proxy.py UPSTREAM_PORT DELAY_MS [PORT]
"""
import http.client
import json
import socket
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM = int(sys.argv[1])
DELAY = int(sys.argv[2]) / 1000.0
calls = Counter()
requests = []
timeline = []
throttled = Counter()
lock = threading.Lock()
RATE = float(__import__("os").environ.get("THROTTLE_RPS") or 0)
IGNORE_PRECONDITIONS = bool(__import__("os").environ.get("IGNORE_PRECONDITIONS"))
buckets = {}  # "service region" -> [tokens, last refill]


def admitted(key):
    """Takes a token from the key's bucket; False when it is empty."""
    if not RATE:
        return True
    with lock:
        now = time.monotonic()
        tokens, last = buckets.get(key, [RATE, now])
        tokens = min(RATE, tokens + (now - last) * RATE)
        buckets[key] = [tokens - 1 if tokens >= 1 else tokens, now]
        if tokens < 1:
            throttled[key] += 1
        return tokens >= 1


def throttling(command, path, target, query):
    """The answer AWS gives beyond the rate, in the service's protocol: (status, content type, body)."""
    if path.startswith(("/2015-03-31/", "/2018-10-31/")):
        return 429, "application/json", b'{"Type":"User","message":"Rate exceeded"}', "TooManyRequestsException"
    if target:
        return 400, "application/x-amz-json-1.1", b'{"__type":"ThrottlingException","message":"Rate exceeded"}', None
    if query:
        return 400, "text/xml", b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>", None
    return 503, "application/xml", b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>", None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        if self.path in ("/__calls", "/__requests", "/__timeline", "/__throttled"):
            with lock:
                kept = {"/__calls": calls, "/__requests": requests, "/__timeline": timeline, "/__throttled": throttled}[self.path]
                body = json.dumps(dict(kept) if isinstance(kept, Counter) else kept).encode()
                if self.command == "DELETE":
                    kept.clear()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        arrived = time.monotonic()
        # The operation, for people reading the timeline: JSON protocols name it in X-Amz-Target, the
        # query protocol in the form body's Action; REST protocols by the path.
        target = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
        if not target and body and b"Action=" in body:
            target = body.split(b"Action=", 1)[1].split(b"&", 1)[0].decode("latin-1")
        auth = self.headers.get("Authorization", "")
        scope = auth.split("Credential=")[1].split("/") if "Credential=" in auth else ["?"] * 4
        region, service = scope[2], scope[3]
        with lock:
            calls[region] += 1
            requests.append(f"{self.command} {region} {self.path}")
        time.sleep(DELAY)
        if not admitted(f"{service} {region}"):
            status, kind, data, error_type = throttling(self.command, self.path, target, body and b"Action=" in body)
            head = [f"HTTP/1.1 {status} Throttled", f"Content-Type: {kind}", f"Content-Length: {len(data)}", "x-amzn-RequestId: throttled-by-proxy"]
            if error_type:
                head.append(f"x-amzn-ErrorType: {error_type}")
            self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (b"" if self.command == "HEAD" else data))
            with lock:
                timeline.append([arrived, time.monotonic(), f"{self.command} {region} {target or self.path} THROTTLED", f"{service} {region}"])
            return
        upstream = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive", "proxy-connection")}
        upstream.request(self.command, self.path, body=body, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        # One write for the whole answer: headers and body in separate small writes meet
        # Nagle's algorithm here and the client's delayed ACK on a kept-alive connection, and
        # every answer would wait 40 ms for nothing.
        head = [f"HTTP/1.1 {response.status} {response.reason}"]
        if IGNORE_PRECONDITIONS and self.command == "PUT" and response.status == 412:
            head, data = ["HTTP/1.1 200 OK", 'ETag: "00000000000000000000000000000000"'], b""
            response.getheaders = lambda: []
        for key, value in response.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                head.append(f"{key}: {value}")
        head.append(f"Content-Length: {len(data)}")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (b"" if self.command == "HEAD" else data))
        upstream.close()
        with lock:
            timeline.append([arrived, time.monotonic(), f"{self.command} {region} {target or self.path}", f"{service} {region}"])

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any


if len(sys.argv) > 3:
    port = int(sys.argv[3])
else:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
ThreadingHTTPServer.allow_reuse_address = True
# A plan opens many connections at once: the default backlog of 5 drops SYNs, which come
# back a second later.
ThreadingHTTPServer.request_queue_size = 128
server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.daemon_threads = True
print(json.dumps({"port": port}), flush=True)
server.serve_forever()
