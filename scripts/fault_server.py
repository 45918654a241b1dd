"""A loopback HTTP endpoint that misbehaves on purpose, for the tests that prove every
request the controller makes ends in bounded time with a clear error. The first path
segment picks the fault (the client's endpoint is http://127.0.0.1:PORT/<fault>):

  silent    reads the request and never answers
  drip      sends headers, then one byte of the body every 0.5 s, for ever
  endless   sends a 200 with a body that never ends, as fast as it can
  token     answers every JSON list call with an empty page and the same NextToken
  redirect  answers 307 to another host, with S3's x-amz-bucket-region
  forbidden answers 403 SignatureDoesNotMatch (REST-JSON, as Lambda does)
  garbage   answers 200 with bytes that are no protocol's
  truncated promises 1000 bytes, sends 10 and closes the connection
  ok        answers STS GetCallerIdentity properly (the control case)

Prints {"port": N} and serves until killed. GET /__requests answers how many requests
each fault received. Listens on 127.0.0.1 only. With --tls it speaks HTTPS with the given
certificate (a self-signed one, for the tests of a CA bundle).

Usage: fault_server.py [PORT] [--tls CERT KEY]
"""
import json
import os
import ssl
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counts = Counter()
lock = threading.Lock()

IDENTITY = (b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
            b'<Arn>arn:aws:iam::123456789012:user/test</Arn><UserId>AIDA</UserId><Account>123456789012</Account>'
            b'</GetCallerIdentityResult><ResponseMetadata><RequestId>fault-ok</RequestId></ResponseMetadata></GetCallerIdentityResponse>')


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        fault = self.path.strip("/").split("/")[0].split("?")[0]
        if fault == "__requests":
            with lock:
                body = json.dumps(dict(counts)).encode()
            return self.answer(200, body, "application/json")
        with lock:
            counts[fault] += 1
        try:
            getattr(self, "fault_" + fault, self.fault_unknown)()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def answer(self, status, body, content_type="text/xml", headers=()):
        # One write, as scripts/delay_proxy.py answers: headers and body written apart stall
        # 40 ms on a kept-alive connection (Nagle here, a delayed ACK at the client).
        head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}", f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in headers]
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    def fault_silent(self):
        time.sleep(3600)

    def fault_drip(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        while True:
            self.wfile.write(b" ")
            self.wfile.flush()
            time.sleep(0.5)

    def fault_endless(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"x" * 65536
        frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        while True:
            self.wfile.write(frame)

    def fault_token(self):
        self.answer(200, json.dumps({"UserPools": [], "NextToken": "same-token"}).encode(), "application/x-amz-json-1.1")

    def fault_redirect(self):
        self.answer(307, b"", headers=[("Location", "http://127.0.0.2:9/elsewhere"), ("x-amz-bucket-region", "eu-central-1")])

    def fault_forbidden(self):
        body = json.dumps({"message": "The request signature we calculated does not match the signature you provided."}).encode()
        self.answer(403, body, "application/json", headers=[("x-amzn-ErrorType", "InvalidSignatureException"), ("x-amzn-RequestId", "fault-403")])

    def fault_garbage(self):
        self.answer(200, bytes(range(256)) * 4)

    def fault_truncated(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"<GetCaller")
        self.wfile.flush()
        self.close_connection = True

    def fault_ok(self):
        self.answer(200, IDENTITY)

    def fault_unknown(self):
        self.answer(404, b"unknown fault")

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def exit_with_parent():
    """A test that dies (a crash, a kill) must not leave this server behind."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def main():
    threading.Thread(target=exit_with_parent, daemon=True).start()
    arguments = sys.argv[1:]
    tls = None
    if "--tls" in arguments:
        at = arguments.index("--tls")
        tls = arguments[at + 1:at + 3]
        del arguments[at:at + 3]
    port = int(arguments[0]) if arguments else 0
    server = Server(("127.0.0.1", port), Handler)
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls[0], tls[1])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
