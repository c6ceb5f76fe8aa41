#!/usr/bin/env python3
"""An external extension for the e2e tests, as an observability vendor's layer would ship
it (standard library only): it registers for INVOKE and SHUTDOWN, subscribes to the
platform and function telemetry streams with an HTTP listener on sandbox.localdomain,
and writes what it receives to its output (which is the function's log):
``EVENT <event>`` per event, ``TELEMETRY <record>`` per record. With EXTENSION_SLEEP set
it works that many seconds after each INVOKE before asking for the next event. It
listens on 127.0.0.1:2773 before it registers, as a local service would.
"""

import http.server
import json
import os
import socket
import sys
import threading
import time
import urllib.request

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
NAME = os.path.basename(sys.argv[0])


def call(method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://{API}{path}", data, headers or {}, method=method)
    with urllib.request.urlopen(request) as response:
        return response.headers, response.read()


class Listener(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        records = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        for record in records:
            print("TELEMETRY " + json.dumps(record), flush=True)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    # A service the function may use from its init (as AWS's Parameters and Secrets
    # extension serves on port 2773): up before the extension registers, so before the
    # runtime starts.
    try:
        service = socket.create_server(("127.0.0.1", 2773))
    except OSError:
        service = None  # another environment's, on a host without network namespaces
    headers, body = call(
        "POST",
        "/2020-01-01/extension/register",
        {"events": ["INVOKE", "SHUTDOWN"]},
        {"Lambda-Extension-Name": NAME, "Lambda-Extension-Accept-Feature": "accountId"},
    )
    me = {"Lambda-Extension-Identifier": headers["Lambda-Extension-Identifier"]}
    print("REGISTERED " + body.decode(), flush=True)
    try:
        server = http.server.HTTPServer(("sandbox.localdomain", 0), Listener)
    except OSError:  # a host whose sandboxes share its names (the process backend)
        server = http.server.HTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    subscription = {
        "schemaVersion": "2022-12-13",
        "types": ["platform", "function"],
        "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
        "destination": {"protocol": "HTTP", "URI": f"http://sandbox.localdomain:{port}/t"},
    }
    call("PUT", "/2022-07-01/telemetry", subscription, me)
    pause = float(os.environ.get("EXTENSION_SLEEP", "0"))
    while True:
        _, body = call("GET", "/2020-01-01/extension/event/next", None, me)
        print("EVENT " + body.decode(), flush=True)
        if json.loads(body)["eventType"] == "SHUTDOWN":
            time.sleep(0.2)  # the last telemetry batch arrives meanwhile
            if service is not None:
                service.close()
            return
        time.sleep(pause)


main()
