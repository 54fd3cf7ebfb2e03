"""A small real HTTP server on 127.0.0.1 that speaks RunPod's GraphQL shape (agent-anchors §3.5).

It checks what the real API checks (Bearer key → HTTP 401 otherwise; `podTerminate` must have no
selection set; `podCreate` does not exist; `ports` is a string, `env` a list of {key, value},
`cloudType` an enum) and records every request and mutation. Scriptable: GPU types with no
instances, slow starts (runtime null for N polls), queued errors per operation, a terminate that
is accepted but does nothing, a deploy whose answer is lost after the pod was made. The pod's runtime.ports point at the test sshd.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

NO_INSTANCES = ("There are no longer any instances available with the requested specifications. "
                "Please refresh and try again.")
CLOUD_TYPES = {"ALL", "SECURE", "COMMUNITY"}
_ROOT_FIELD = re.compile(r"\b(podFindAndDeployOnDemand|podTerminate|podCreate|podStop|pod|myself)\s*[({]")


@dataclass
class FakeRunPod:
    api_key: str
    ssh_host: str = "127.0.0.1"
    ssh_port: int = 22
    cost_per_hr: float = 0.44
    no_capacity: set[str] = field(default_factory=set)
    start_delay_polls: int = 0
    terminate_noop: bool = False
    drop_deploy_answers: int = 0  # create the pod, then cut the connection before answering
    on_terminate: Callable[[str], None] | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)       # op -> queued GraphQL errors
    http_errors: dict[str, list[int]] = field(default_factory=dict)  # op -> queued HTTP statuses
    requests: list[dict] = field(default_factory=list)
    mutations: list[dict] = field(default_factory=list)
    pods: dict[str, dict] = field(default_factory=dict)
    _polls: dict[str, int] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> "FakeRunPod":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, payload = fake.handle(self.path, dict(self.headers), body)
                if status is None:  # the request landed, the answer is lost
                    self.close_connection = True
                    return
                data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/graphql"

    # ---------------------------------------------------------------- views for assertions
    def ops(self, name: str) -> list[dict]:
        return [m for m in self.mutations if m["op"] == name]

    @property
    def terminated(self) -> list[str]:
        return [m["variables"]["input"]["podId"] for m in self.ops("podTerminate")]

    def live_pods(self) -> list[str]:
        return [pid for pid, pod in self.pods.items() if pod["desiredStatus"] != "TERMINATED"]

    # ---------------------------------------------------------------- protocol
    def handle(self, path: str, headers: dict, body: bytes) -> tuple[int | None, Any]:
        headers = {k.lower(): v for k, v in headers.items()}
        try:
            req = json.loads(body)
            query, variables = req["query"], req.get("variables") or {}
        except (ValueError, KeyError, TypeError):
            return 400, {"errors": [{"message": "Must provide query string."}]}
        m = _ROOT_FIELD.search(query)
        op = m.group(1) if m else "?"
        with self._lock:
            self.requests.append({"path": path, "headers": headers, "query": query,
                                  "variables": variables, "op": op})
            if headers.get("authorization") != f"Bearer {self.api_key}":
                return 401, b'{"error":"Unauthorized"}'
            if self.http_errors.get(op):
                return self.http_errors[op].pop(0), {"errors": [{"message": "upstream error"}]}
            if query.lstrip().startswith("mutation"):
                self.mutations.append({"op": op, "variables": variables, "query": query})
            if self.errors.get(op):
                return 200, {"errors": [{"message": self.errors[op].pop(0)}], "data": None}
            handler = getattr(self, f"_op_{op}", None)
            if handler is None:
                return 200, {"errors": [{"message": f'Cannot query field "{op}" on type "Mutation".'}]}
            result = handler(query, variables)
            if op == "podFindAndDeployOnDemand" and self.drop_deploy_answers and result.get("data"):
                self.drop_deploy_answers -= 1
                return None, None
            return 200, result

    def _op_podFindAndDeployOnDemand(self, query, variables):  # noqa: N802
        inp = variables.get("input")
        if not isinstance(inp, dict):
            return _err('Variable "$input" of required type "PodFindAndDeployOnDemandInput!" was not provided.')
        problems = []
        if not isinstance(inp.get("ports", ""), str):
            problems.append("ports must be a String")
        env = inp.get("env", [])
        if not isinstance(env, list) or not all(isinstance(e, dict) and set(e) == {"key", "value"} for e in env):
            problems.append("env must be a list of {key, value}")
        if inp.get("cloudType", "ALL") not in CLOUD_TYPES:
            problems.append(f'Value "{inp.get("cloudType")}" does not exist in "CloudTypeEnum" enum.')
        if not inp.get("gpuTypeId"):
            problems.append("gpuTypeId is required")
        if not (inp.get("imageName") or inp.get("templateId")):
            problems.append("imageName or templateId is required")
        if problems:
            return _err("; ".join(problems))
        if inp["gpuTypeId"] in self.no_capacity:
            return _err(NO_INSTANCES)
        pod_id = f"fakepod{next(self._ids):04d}"
        self.pods[pod_id] = {"id": pod_id, "name": inp.get("name"), "desiredStatus": "RUNNING",
                             "costPerHr": self.cost_per_hr, "imageName": inp.get("imageName"),
                             "machineId": "m-1", "gpuTypeId": inp["gpuTypeId"], "env": env}
        self._polls[pod_id] = 0
        return {"data": {"podFindAndDeployOnDemand": {
            "id": pod_id, "name": inp.get("name"), "imageName": inp.get("imageName"),
            "machineId": "m-1", "costPerHr": self.cost_per_hr, "desiredStatus": "RUNNING"}}}

    def _op_pod(self, query, variables):
        pod_id = (variables.get("input") or {}).get("podId")
        pod = self.pods.get(pod_id)
        if pod is None or pod["desiredStatus"] == "TERMINATED":
            return {"data": {"pod": None}}
        self._polls[pod_id] += 1
        runtime = None
        if self._polls[pod_id] > self.start_delay_polls:
            runtime = {"uptimeInSeconds": 5, "ports": [
                {"ip": "100.65.0.101", "isIpPublic": False, "privatePort": 8888, "publicPort": 60141, "type": "http"},
                {"ip": "10.0.0.7", "isIpPublic": False, "privatePort": 22, "publicPort": 22, "type": "tcp"},
                {"ip": self.ssh_host, "isIpPublic": True, "privatePort": 22, "publicPort": self.ssh_port, "type": "tcp"},
            ]}
        fields = {k: v for k, v in pod.items() if k not in ("gpuTypeId", "env")}
        return {"data": {"pod": {**fields, "runtime": runtime}}}

    def _op_podTerminate(self, query, variables):  # noqa: N802
        if re.search(r"podTerminate\s*\([^)]*\)\s*\{", query):
            return _err('Field "podTerminate" must not have a selection since type "Void" has no subfields.')
        pod_id = (variables.get("input") or {}).get("podId")
        pod = self.pods.get(pod_id)
        if pod is None:
            return _err(f"pod {pod_id} not found")
        if not self.terminate_noop:
            pod["desiredStatus"] = "TERMINATED"
            if self.on_terminate:
                self.on_terminate(pod_id)
        return {"data": {"podTerminate": None}}

    def _op_myself(self, query, variables):
        pods = [{k: v for k, v in p.items() if k in ("id", "name", "desiredStatus", "costPerHr")}
                for p in self.pods.values() if p["desiredStatus"] != "TERMINATED"]
        return {"data": {"myself": {"pods": pods}}}


def _err(message: str) -> dict:
    return {"errors": [{"message": message}], "data": None}
