"""RunPod GraphQL client against the fake server (a real HTTP server speaking RunPod's shape)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metahuman_core.errors import ConfigError
from metahuman_core.redact import redact
from metahuman_core.training import runpod
from metahuman_core.training.runpod import (
    NoCapacity,
    PodSpec,
    RunPodAuthError,
    RunPodClient,
    RunPodError,
    ssh_endpoint,
)
from tests.fakes.runpod_graphql import NO_INSTANCES, FakeRunPod

KEY = "rp_test_KEY_0123456789abcdef"


@pytest.fixture
def fake():
    server = FakeRunPod(api_key=KEY, ssh_port=2222).start()
    yield server
    server.stop()


@pytest.fixture
def client(fake):
    return RunPodClient(KEY, fake.url, sleep=lambda s: None)


def spec(**kw):
    base = {"name": "metahuman-2025-10-19-1", "image_name": "img:1",
            "public_key": "ssh-ed25519 AAAAtest"}
    return PodSpec(**{**base, **kw})


def test_deploy_sends_variables_header_and_ssh_settings(fake, client):
    pod = client.deploy(spec(cloud_type="SECURE", volume_in_gb=20), ["NVIDIA GeForce RTX 4090"])
    assert pod.id.startswith("fakepod") and pod.gpu_type == "NVIDIA GeForce RTX 4090"
    assert pod.cost_per_hr == pytest.approx(0.44)
    (m,) = fake.ops("podFindAndDeployOnDemand")
    inp = m["variables"]["input"]
    assert inp["ports"] == "22/tcp" and inp["supportPublicIp"] is True and inp["startSsh"] is True
    assert inp["cloudType"] == "SECURE" and inp["volumeInGb"] == 20 and inp["volumeMountPath"] == "/workspace"
    assert {"key": "PUBLIC_KEY", "value": "ssh-ed25519 AAAAtest"} in inp["env"]
    assert "$input" in m["query"] and "metahuman-2025" not in m["query"]  # values never interpolated
    req = fake.requests[-1]
    assert req["headers"]["authorization"] == f"Bearer {KEY}"
    assert KEY not in req["path"] and KEY not in req["query"]


def test_gpu_types_are_tried_in_order_on_no_instances(fake, client):
    fake.no_capacity = {"NVIDIA GeForce RTX 4090"}
    seen = []
    pod = client.deploy(spec(), ["NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 5090"],
                        on_attempt=lambda gpu, why: seen.append((gpu, why)))
    assert pod.gpu_type == "NVIDIA GeForce RTX 5090"
    assert [m["variables"]["input"]["gpuTypeId"] for m in fake.ops("podFindAndDeployOnDemand")] == [
        "NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 5090"]
    assert seen[0][1] and "no longer any instances" in seen[0][1] and seen[1] == ("NVIDIA GeForce RTX 5090", None)


def test_no_capacity_anywhere_names_every_type(fake, client):
    fake.no_capacity = {"A", "B"}
    with pytest.raises(NoCapacity) as info:
        client.deploy(spec(), ["A", "B"])
    assert "A:" in info.value.message and "B:" in info.value.message and info.value.hint
    assert fake.live_pods() == []


def test_other_errors_stop_at_once_with_the_api_words(fake, client):
    fake.errors["podFindAndDeployOnDemand"] = ["Invalid template id"]
    with pytest.raises(RunPodError, match="Invalid template id"):
        client.deploy(spec(), ["A", "B"])
    assert len(fake.ops("podFindAndDeployOnDemand")) == 1


def test_bad_key_is_a_clear_error_without_the_key(fake):
    bad = "rp_wrong_key_ABCDEFGHIJ"
    with pytest.raises(RunPodAuthError) as info:
        RunPodClient(bad, fake.url).deploy(spec(), ["A"])
    assert "HTTP 401" in info.value.message and bad not in str(info.value)


def test_server_errors_are_retried(fake, client):
    fake.http_errors["pod"] = [502, 503]
    pod = client.deploy(spec(), ["A"])
    assert client.pod(pod.id)["id"] == pod.id


def test_unreachable_api_names_the_url():
    c = RunPodClient(KEY, "http://127.0.0.1:9/graphql", retries=1, sleep=lambda s: None)
    with pytest.raises(RunPodError, match="unreachable at http://127.0.0.1:9"):
        c.pod("x")


def test_wait_for_ssh_picks_the_public_tcp_22_mapping_after_a_slow_start(fake, client):
    fake.start_delay_polls = 3
    pod = client.deploy(spec(), ["A"])
    checks = []
    endpoint, _info = client.wait_for_ssh(pod.id, timeout=30, poll=0, check=checks.append)
    assert (endpoint.ip, endpoint.port) == ("127.0.0.1", 2222)  # not the first port, not the private 22
    assert len(checks) == 4 and checks[0]["runtime"] is None


def test_wait_for_ssh_check_can_abort(fake, client):
    fake.start_delay_polls = 100
    pod = client.deploy(spec(), ["A"])

    def check(_):
        raise RuntimeError("cap")
    with pytest.raises(RuntimeError, match="cap"):
        client.wait_for_ssh(pod.id, timeout=30, poll=0, check=check)


def test_terminate_has_no_selection_set_and_is_verified(fake, client):
    pod = client.deploy(spec(), ["A"])
    assert client.terminate_and_verify(pod.id) is True
    (m,) = fake.ops("podTerminate")
    assert m["variables"] == {"input": {"podId": pod.id}}
    assert "podTerminate(input: $input) }" in m["query"]
    assert client.is_gone(pod.id) and fake.live_pods() == []


def test_terminate_that_does_nothing_is_reported(fake, client):
    fake.terminate_noop = True
    pod = client.deploy(spec(), ["A"])
    assert client.terminate_and_verify(pod.id, attempts=2, wait=0) is False
    assert len(fake.ops("podTerminate")) == 2


def test_a_deploy_whose_answer_is_lost_finds_its_pod_by_name(fake, client):
    fake.drop_deploy_answers = 1
    pod = client.deploy(spec(name="metahuman-2025-10-19-7"), ["A", "B"])
    assert len(fake.ops("podFindAndDeployOnDemand")) == 1 and fake.live_pods() == [pod.id]
    assert pod.name == "metahuman-2025-10-19-7"


def test_pods_are_found_by_name(fake, client):
    pod = client.deploy(spec(name="metahuman-x-1"), ["A"])
    assert client.find_pod_by_name("metahuman-x-1")["id"] == pod.id
    assert client.find_pod_by_name("other") is None


# ------------------------------------------------------------------ key and URL
def test_api_key_from_env_is_registered_for_redaction(tmp_path):
    key = runpod.load_api_key(tmp_path, {"RUNPOD_API_KEY": "envkey_987654321"})
    assert key == "envkey_987654321"
    assert "envkey_987654321" not in str(redact({"msg": "Bearer envkey_987654321"}))


def test_api_key_file_must_be_private(tmp_path):
    path = tmp_path / "runpod_api_key"
    path.write_text("filekey_123456789\n")
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600|permissions 0644") as info:
        runpod.load_api_key(tmp_path, {})
    assert "filekey" not in str(info.value)
    os.chmod(path, 0o600)
    assert runpod.load_api_key(tmp_path, {}) == "filekey_123456789"


def test_missing_key_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="RUNPOD_API_KEY is not set") as info:
        runpod.load_api_key(tmp_path, {})
    assert "etc/secrets/runpod_api_key" in info.value.hint


def test_api_url_refuses_plain_http_to_another_host():
    assert runpod.api_url({}) == runpod.DEFAULT_API_URL
    assert runpod.api_url({"RUNPOD_API_URL": "http://127.0.0.1:5/graphql"}).startswith("http://127")
    with pytest.raises(ConfigError, match="unencrypted"):
        runpod.api_url({"RUNPOD_API_URL": "http://api.example.com/graphql"})
    with pytest.raises(ConfigError, match="not an http"):
        runpod.api_url({"RUNPOD_API_URL": "ftp://x"})


_port = st.fixed_dictionaries({
    "ip": st.sampled_from(["1.2.3.4", "10.0.0.1", "", None]), "isIpPublic": st.booleans(),
    "privatePort": st.sampled_from([22, 8888, 2222]), "publicPort": st.integers(0, 65535),
    "type": st.sampled_from(["tcp", "http", "udp"])})


@given(st.lists(_port, max_size=6))
def test_ssh_endpoint_is_only_ever_a_public_tcp_22_mapping(ports):
    found = ssh_endpoint({"runtime": {"ports": ports}})
    matches = [p for p in ports if p["privatePort"] == 22 and p["type"] == "tcp" and p["isIpPublic"]
               and p["ip"] and p["publicPort"]]
    if not matches:
        assert found is None
    else:
        assert (found.ip, found.port) == (matches[0]["ip"], matches[0]["publicPort"])


def test_ssh_endpoint_when_runtime_is_null():
    assert ssh_endpoint({"runtime": None}) is None and ssh_endpoint(None) is None


def test_fake_rejects_the_seed_calls(fake):
    """The seed's podCreate and a selection set on podTerminate are errors, as on the real API."""
    c = RunPodClient(KEY, fake.url)
    with pytest.raises(RunPodError, match="podCreate"):
        c.execute('mutation { podCreate(input: {templateId: "x"}) { id } }')
    pod = c.deploy(spec(), ["A"])
    with pytest.raises(RunPodError, match="must not have a selection"):
        c.execute("mutation T($input: PodTerminateInput!) { podTerminate(input: $input) { id status } }",
                  {"input": {"podId": pod.id}})
    assert NO_INSTANCES


# ------------------------------------------------------------------ pure helpers of the remote path
from datetime import UTC, datetime, timedelta

from metahuman_core.training import remote_state
from metahuman_core.training.runs import Run

_T0 = datetime(2025, 10, 19, 12, 0, tzinfo=UTC)


def test_billable_sums_every_pod_of_the_run():
    s = {"pods": [
        {"pod_id": "a", "cost_per_hr": 2.0, "created_at": _T0.isoformat(),
         "ended_at": (_T0 + timedelta(minutes=30)).isoformat(), "terminated": True},
        {"pod_id": "b", "cost_per_hr": None, "created_at": _T0.isoformat(), "ended_at": None},
        {"pod_id": "c", "cost_per_hr": 1.0, "created_at": _T0.isoformat(), "ended_at": None}]}
    hours, usd = remote_state.billable(s, _T0 + timedelta(hours=1))
    assert hours == pytest.approx(2.5) and usd == pytest.approx(2.0)
    assert remote_state.may_have_live_pod({**s, "pod_id": "c", "terminated": False}) == ["b", "c"]
    assert remote_state.may_have_live_pod({"pods": [], "pod_requested": "metahuman-x-1"}) == [
        "name:metahuman-x-1"]


def test_download_plan_brings_artifacts_home_and_leaves_scratch(tmp_path):
    run = Run("2025-10-19", tmp_path)
    files = ["alex-2025-10-19.gguf", "adapter/adapter_model.safetensors", "eval.json",
             "merged/model.safetensors", "progress.ndjson", "config.json", "x.gguf.part"]
    plan = {(Path(r).relative_to("/w/output") if "/output/" in r else Path(Path(r).name)): d
            for r, d in remote_state.download_plan(run, files, "/w")}
    assert plan[Path("alex-2025-10-19.gguf")] == tmp_path / "alex-2025-10-19.gguf"
    assert plan[Path("adapter/adapter_model.safetensors")] == tmp_path / "adapter" / "adapter_model.safetensors"
    assert plan[Path("train.log")] == run.log_path
    assert Path("merged/model.safetensors") not in plan and Path("config.json") not in plan
    assert Path("x.gguf.part") not in plan
    with pytest.raises(Exception, match="no GGUF"):
        remote_state.download_plan(run, ["eval.json"], "/w")


_line = st.fixed_dictionaries({"stage": st.sampled_from(["INIT", "TRAINING", "COMPLETE"]),
                               "step": st.one_of(st.none(), st.integers(0, 500)),
                               "message": st.text(max_size=30)})


@given(st.lists(_line, min_size=1, max_size=12), st.lists(st.integers(0, 4000), max_size=8))
def test_progress_mirror_is_exact_whatever_the_chunking(tmp_path_factory, lines, cuts):
    """Polling reads from the mirror's size on; any split of the stream gives the same mirror."""
    import json as _json

    run = Run("2025-10-19", tmp_path_factory.mktemp("run"))
    remote = "".join(_json.dumps(x, ensure_ascii=False) + "\n" for x in lines).encode()
    summary: dict = {}
    for cut in sorted(cuts) + [len(remote)]:
        offset = run.progress_path.stat().st_size if run.progress_path.exists() else 0
        remote_state.append_progress(run, remote[offset:max(cut, offset)], summary)
    assert run.progress_path.read_bytes() == remote
    assert summary["progress"]["stage"] == lines[-1]["stage"]
    steps = [x["step"] for x in lines if isinstance(x["step"], int)]
    assert summary.get("training_steps_done") == (max(steps) if steps else None)


# ------------------------------------------------------------------ SSH key handling
def test_ssh_key_must_exist_and_be_private(tmp_path):
    from metahuman_core.training.pod_ssh import public_key_line, resolve_key_path
    from tests.fakes.sshd import keygen

    with pytest.raises(ConfigError, match="SSH key not found"):
        resolve_key_path(None, {"SSH_KEY_PATH": str(tmp_path / "missing")})
    if not __import__("shutil").which("ssh-keygen"):
        pytest.skip("needs ssh-keygen")
    key = keygen(tmp_path / "k")
    assert resolve_key_path(None, {"RUNPOD_SSH_KEY_PATH": str(key)}) == key
    assert public_key_line(key).startswith("ssh-ed25519 AAAA")
    (tmp_path / "k.pub").unlink()
    assert public_key_line(key).startswith("ssh-ed25519 AAAA")  # derived from the private key
    os.chmod(key, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        resolve_key_path(str(key), {})
