"""Schemathesis fuzzes every operation of the OpenAPI schema: no request may get a 5xx.

Positive cases (valid by the schema) and negative ones (broken on purpose) are sent to the app in process,
with the write token, so the fuzzer reaches the handlers behind the auth check. Bounded: a few examples per
operation and mode, so the whole run takes seconds.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import NonInteractiveExampleWarning, Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from forewarn.serve import ServeSettings, create_app

EXAMPLES = 6
# the Arrow batch endpoint takes raw bytes: fuzz it like any binary body
schemathesis.serializer.alias("application/vnd.apache.arrow.stream", "application/octet-stream")


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
def test_no_operation_answers_5xx(sample, token: str, auth: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    app = create_app(
        ServeSettings(
            store=str(sample.store),
            models=str(sample.models),
            token=token,
            evaluate_on_start=False,
            max_body_bytes=64 * 1024,
        )
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18
    seen: dict[str, set[int]] = {}

    def fuzzer(operation, mode):  # type: ignore[no-untyped-def]
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def fuzz(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(headers=auth)
            seen.setdefault(operation.label, set()).add(response.status_code)
            case.validate_response(
                response, checks=[not_a_server_error, status_code_conformance, content_type_conformance], headers=auth
            )

        return fuzz

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzzer(operation, mode)()
            except Unsatisfiable:
                # an operation without parameters or body has nothing to break in negative mode
                assert mode is GenerationMode.NEGATIVE, operation.label
    assert all(code < 500 for codes in seen.values() for code in codes)
    # the fuzzer got past validation somewhere: some operations answered 200
    assert sum(200 in codes for codes in seen.values()) >= 8, seen
    assert NonInteractiveExampleWarning  # imported for the filter above
