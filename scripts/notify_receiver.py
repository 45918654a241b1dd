"""A loopback receiver for notification tests: keeps every POST (path and body) and
returns them, oldest first, as JSON on GET /__received.

    python notify_receiver.py [PORT]   # prints {"port": N} once it listens on 127.0.0.1:N (0 or none: a free port)
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

received = []
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            received.append({"path": self.path, "contentType": self.headers.get("Content-Type", ""), "body": body.decode("utf-8", "replace")})
        self.answer(200, b"{}")

    def do_GET(self):
        with lock:
            body = json.dumps(received).encode()
        self.answer(200 if self.path == "/__received" else 404, body if self.path == "/__received" else b"{}")

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
print(json.dumps({"port": server.server_address[1]}), flush=True)
server.serve_forever()
