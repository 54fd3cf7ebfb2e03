"""A bounded schemathesis run against /openapi.json (in-process ASGI app, authenticated): no server
errors, documented status codes and content types, responses matching their schemas — for
schema-valid (positive) and schema-violating (negative) requests alike."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
pytest.importorskip("fastapi")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import (content_type_conformance, not_a_server_error,  # noqa: E402
                                 response_schema_conformance, status_code_conformance)
from schemathesis.openapi import from_asgi  # noqa: E402

from metahuman_core.api_token import ensure_token  # noqa: E402
from metahuman_tui.http.app import create_api  # noqa: E402

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 15}


@pytest.mark.slow
def test_openapi_fuzz_finds_no_server_errors(profile):
    app = create_api(profile)
    headers = {"Host": "localhost", "Authorization": f"Bearer {ensure_token(profile)}"}
    schema = from_asgi("/openapi.json", app, headers={"Host": "localhost"})
    (profile.home.out / "seeded.txt").write_text("something to read")
    failures: list[str] = []
    tried = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode, count in EXAMPLES.items():
            @settings(max_examples=count, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(operation.as_strategy(generation_mode=mode))
            def fuzz(case):
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                fuzz()
                tried += 1
            except Unsatisfiable:  # nothing to break (no parameters): not a failure
                continue
            except Exception as exc:  # collect every operation's failure, then report all
                failures.append(f"{operation.label} [{mode.name}]: {str(exc)[:1500]}")
    assert tried >= 15
    assert not failures, "\n\n".join(failures)
