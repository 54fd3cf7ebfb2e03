"""RunPod GraphQL client: deploy a GPU pod, find its SSH endpoint, terminate it, check it is gone.

Why a client of our own: the seed's calls are wrong (there is no `podCreate`, `podTerminate` has no
selection set, the first port is not SSH: agent-anchors §3.5/§3.9) and the SDK builds queries
with f-strings. Here every query uses GraphQL variables, the key travels only in the
Authorization header, is registered for redaction and never appears in an error message.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

from ..errors import ConfigError, MHError
from ..redact import register_secret, scrub_string

DEFAULT_API_URL = "https://api.runpod.io/graphql"
API_KEY_FILE = "runpod_api_key"
POD_NAME_PREFIX = "metahuman-"
_NO_CAPACITY = ("no longer any instances available", "no instances available",
                "not enough free gpus", "no gpu available", "there are no gpus available")

Q_DEPLOY = """mutation Deploy($input: PodFindAndDeployOnDemandInput!) {
  podFindAndDeployOnDemand(input: $input) { id name imageName machineId costPerHr desiredStatus }
}"""
Q_POD = """query Pod($input: PodFilter!) {
  pod(input: $input) {
    id name desiredStatus costPerHr
    runtime { uptimeInSeconds ports { ip isIpPublic privatePort publicPort type } }
  }
}"""
Q_TERMINATE = """mutation Terminate($input: PodTerminateInput!) { podTerminate(input: $input) }"""
Q_MY_PODS = """query MyPods { myself { pods { id name desiredStatus costPerHr } } }"""


class RunPodError(MHError):
    """The RunPod API refused or failed a request; the message carries its own words."""


class NoCapacity(RunPodError):
    """No instances of the requested GPU type: the caller tries the next type."""


class RunPodAuthError(RunPodError):
    pass


class RunPodUnreachable(RunPodError):
    """No answer at all (network, timeout): a mutation may or may not have happened."""


def load_api_key(secrets_dir: Path | None, env: Mapping[str, str] | None = None) -> str:
    """RUNPOD_API_KEY from the environment, else `<secrets_dir>/runpod_api_key` (mode 0600 only)."""
    env = os.environ if env is None else env
    key = (env.get("RUNPOD_API_KEY") or "").strip()
    source = "RUNPOD_API_KEY"
    if not key and secrets_dir is not None:
        path = Path(secrets_dir) / API_KEY_FILE
        if path.exists():
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                raise ConfigError(f"{path}: permissions {mode:04o} let other users read the RunPod key",
                                  hint=f"chmod 600 {path}")
            key = path.read_text(encoding="utf-8").strip()
            source = str(path)
    if not key:
        raise ConfigError("RUNPOD_API_KEY is not set",
                          hint="export RUNPOD_API_KEY=… or put the key in etc/secrets/runpod_api_key (chmod 600)")
    if any(c.isspace() for c in key):
        raise ConfigError(f"{source}: the RunPod API key contains whitespace")
    register_secret(key)
    return key


def api_url(env: Mapping[str, str] | None = None) -> str:
    """RUNPOD_API_URL or the default; plain http only to loopback (the key would travel in clear)."""
    env = os.environ if env is None else env
    url = (env.get("RUNPOD_API_URL") or DEFAULT_API_URL).strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(f"RUNPOD_API_URL: not an http(s) URL: {url!r}")
    if parsed.scheme == "http" and parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(f"RUNPOD_API_URL: {url!r} is plain http to another host; the API key would "
                          "be sent unencrypted", hint="use https://")
    return url


@dataclass
class PodSpec:
    """What to deploy; `input_for(gpu)` is the PodFindAndDeployOnDemandInput for one GPU type."""
    name: str
    image_name: str | None
    template_id: str | None = None
    cloud_type: str = "ALL"
    volume_in_gb: int = 0
    container_disk_in_gb: int = 40
    public_key: str | None = None
    gpu_count: int = 1
    env: dict[str, str] = field(default_factory=dict)

    def input_for(self, gpu_type: str) -> dict[str, Any]:
        env = dict(self.env)
        if self.public_key:
            env.setdefault("PUBLIC_KEY", self.public_key)      # official templates
            env.setdefault("SSH_PUBLIC_KEY", self.public_key)  # overrides the account keys
        inp: dict[str, Any] = {
            "name": self.name, "gpuTypeId": gpu_type, "gpuCount": self.gpu_count,
            "cloudType": self.cloud_type, "volumeInGb": self.volume_in_gb,
            "containerDiskInGb": self.container_disk_in_gb, "ports": "22/tcp",
            "supportPublicIp": True, "startSsh": True,
            "env": [{"key": k, "value": v} for k, v in env.items()],
        }
        if self.image_name:
            inp["imageName"] = self.image_name
        if self.template_id:
            inp["templateId"] = self.template_id
        if self.volume_in_gb:
            inp["volumeMountPath"] = "/workspace"
        return inp


@dataclass
class Pod:
    id: str
    name: str | None
    gpu_type: str
    cost_per_hr: float | None


@dataclass
class SshEndpoint:
    ip: str
    port: int


def ssh_endpoint(pod: dict | None) -> SshEndpoint | None:
    """The public TCP mapping of private port 22, or None while the pod is not up yet."""
    runtime = (pod or {}).get("runtime") or {}
    for port in runtime.get("ports") or []:
        if (port.get("privatePort") == 22 and port.get("type") == "tcp" and port.get("isIpPublic")
                and port.get("ip") and port.get("publicPort")):
            return SshEndpoint(str(port["ip"]), int(port["publicPort"]))
    return None


class RunPodClient:
    def __init__(self, api_key: str, url: str = DEFAULT_API_URL, *, timeout: float = 30.0,
                 retries: int = 3, sleep: Callable[[float], None] = time.sleep):
        register_secret(api_key)
        self._key = api_key
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self._sleep = sleep

    def _post(self, query: str, variables: dict | None) -> httpx.Response:
        # a fresh client per call: a request cut by a signal never poisons the next one
        with httpx.Client(timeout=self.timeout, follow_redirects=False) as http:
            return http.post(self.url, json={"query": query, "variables": variables or {}},
                             headers={"Authorization": f"Bearer {self._key}"})

    def execute(self, query: str, variables: dict | None = None, *, retry: bool = True) -> dict:
        """POST one operation; returns `data`. Retries transport errors, 429 and 5xx if `retry`."""
        attempts = self.retries if retry else 1
        for attempt in range(1, attempts + 1):
            try:
                resp = self._post(query, variables)
            except httpx.HTTPError as exc:
                if attempt == attempts:
                    raise RunPodUnreachable(f"RunPod API unreachable at {self.url}: {scrub_string(str(exc))}",
                                            hint="check the network or RUNPOD_API_URL") from None
                self._sleep(min(2 ** attempt, 10))
                continue
            if resp.status_code in (401, 403):
                raise RunPodAuthError(f"RunPod rejected the API key (HTTP {resp.status_code})",
                                      hint="check RUNPOD_API_KEY")
            if (resp.status_code == 429 or resp.status_code >= 500) and attempt < attempts:
                self._sleep(min(2 ** attempt, 10))
                continue
            return self._data(resp)
        raise AssertionError("unreachable")

    def _data(self, resp: httpx.Response) -> dict:
        try:
            body = resp.json()
        except ValueError:
            body = None
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors:
            text = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)
            text = scrub_string(text)
            if any(p in text.lower() for p in _NO_CAPACITY):
                raise NoCapacity(f"RunPod: {text}")
            raise RunPodError(f"RunPod API error: {text}")
        if resp.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            snippet = scrub_string(resp.text[:300])
            raise RunPodError(f"RunPod API answered HTTP {resp.status_code} without data: {snippet!r}")
        return body["data"]

    # ---------------------------------------------------------------- pods
    def deploy(self, spec: PodSpec, gpu_types: list[str],
               on_attempt: Callable[[str, str | None], None] | None = None) -> Pod:
        """Deploy on the first GPU type with capacity; NoCapacity if none has any."""
        if not gpu_types:
            raise ConfigError("etc/training.json: field 'remote.gpuTypes' is empty")
        refusals = []
        for gpu in gpu_types:
            try:
                data = self.execute(Q_DEPLOY, {"input": spec.input_for(gpu)}, retry=False)
            except NoCapacity as exc:
                refusals.append(f"{gpu}: {exc.message}")
                if on_attempt:
                    on_attempt(gpu, exc.message)
                continue
            except RunPodUnreachable:
                found = self.find_pod_by_name(spec.name)  # the request may have landed anyway
                if found is None:
                    raise
                data = {"podFindAndDeployOnDemand": found}
            pod = data.get("podFindAndDeployOnDemand") or {}
            if not pod.get("id"):
                raise RunPodError("RunPod accepted the deploy request but returned no pod id")
            if on_attempt:
                on_attempt(gpu, None)
            return Pod(id=str(pod["id"]), name=pod.get("name"), gpu_type=gpu,
                       cost_per_hr=_float(pod.get("costPerHr")))
        raise NoCapacity("no GPU type in etc/training.json remote.gpuTypes has instances available: "
                         + " | ".join(refusals),
                         hint="add GPU types to remote.gpuTypes, try cloudType ALL, or retry later")

    def pod(self, pod_id: str) -> dict | None:
        return self.execute(Q_POD, {"input": {"podId": pod_id}}).get("pod")

    def wait_for_ssh(self, pod_id: str, *, timeout: float, poll: float,
                     check: Callable[[dict | None], None] | None = None) -> tuple[SshEndpoint, dict]:
        """Poll until the pod exposes public TCP 22. `check(pod)` may raise (caps, cancel)."""
        deadline = time.monotonic() + timeout
        while True:
            pod = self.pod(pod_id)
            if check:
                check(pod)
            if pod is None:
                raise RunPodError(f"pod {pod_id} disappeared while starting")
            endpoint = ssh_endpoint(pod)
            if endpoint:
                return endpoint, pod
            if time.monotonic() >= deadline:
                raise RunPodError(f"pod {pod_id} exposed no public TCP port 22 within {timeout:.0f} s",
                                  hint="the image must run sshd; ports must include 22/tcp")
            self._sleep(poll)

    def terminate(self, pod_id: str) -> None:
        self.execute(Q_TERMINATE, {"input": {"podId": pod_id}})

    def is_gone(self, pod_id: str) -> bool:
        try:
            pod = self.pod(pod_id)
        except RunPodError as exc:
            if "not found" in exc.message.lower():
                return True
            raise
        return pod is None or pod.get("desiredStatus") == "TERMINATED"

    def terminate_and_verify(self, pod_id: str, *, attempts: int = 3, wait: float = 2.0) -> bool:
        """Terminate, then confirm with a query; True only when the pod is really gone."""
        last: Exception | None = None
        for attempt in range(attempts):
            try:
                if self.is_gone(pod_id):
                    return True
                self.terminate(pod_id)
                if self.is_gone(pod_id):
                    return True
            except RunPodAuthError:
                raise
            except RunPodError as exc:
                last = exc
            if attempt < attempts - 1:
                self._sleep(wait)
        if last is not None:
            raise last
        return False

    def list_pods(self) -> list[dict]:
        return list(((self.execute(Q_MY_PODS).get("myself") or {}).get("pods")) or [])

    def find_pod_by_name(self, name: str) -> dict | None:
        try:
            pods = self.list_pods()
        except RunPodError:
            return None
        return next((p for p in pods if p.get("name") == name
                     and p.get("desiredStatus") != "TERMINATED"), None)


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
