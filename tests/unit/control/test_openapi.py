"""The OpenAPI document: every body a handler reads is described (from msgspec, so it says
what the decoder accepts) with an example that fits it, every body Struct forbids unknown
fields, errors are SendGrid's."""

from __future__ import annotations

from typing import Any, cast

import jsonschema_rs
import msgspec
import pytest

from config.settings import HttpSettings
from control.app import create_app
from control.openapi import body_type, complete, request_bodies, tag
from control.routes.common import parse_json, read_body
from control.schemas.examples import REQUEST_EXAMPLES
from control.services import Services

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Litestar 3 notices


class Payload(msgspec.Struct, forbid_unknown_fields=True):
    value: int


async def reads_a_payload(request: Any) -> Payload:
    return await read_body(request, Payload)


async def reads_nothing(request: Any) -> None:
    return None


def app_and_schema() -> tuple[Any, dict[str, Any]]:
    app = create_app(cast(Services, None), HttpSettings())
    return app, complete(app.openapi_schema.to_schema(), app.routes)


def test_body_type_reads_the_handler_source() -> None:
    assert body_type(reads_a_payload) is Payload
    assert body_type(reads_nothing) is None
    assert body_type(len) is None  # no Python source


def test_the_send_and_key_bodies_are_documented() -> None:
    app, schema = app_and_schema()
    bodies = request_bodies(app.routes)
    assert bodies[("/v3/mail/send", "post")].__name__ == "MailSend"
    assert bodies[("/v3/api_keys", "post")].__name__ == "ApiKeyCreate"
    send = schema["paths"]["/v3/mail/send"]["post"]
    ref = send["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    mail_send = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert "from" in mail_send["properties"] and mail_send["additionalProperties"] is False


def struct_types(kind: type) -> list[type]:
    """`kind` and every Struct reachable from its fields."""
    found: dict[type, None] = {}

    def walk(info: msgspec.inspect.Type) -> None:
        if isinstance(info, msgspec.inspect.StructType):
            if info.cls in found:
                return
            found[info.cls] = None
            for field in info.fields:
                walk(field.type)
        for attr in ("item_type", "key_type", "value_type"):
            if hasattr(info, attr):
                walk(getattr(info, attr))
        for attr in ("types", "item_types"):
            for inner in getattr(info, attr, ()):
                walk(inner)

    walk(msgspec.inspect.type_info(kind))
    return list(found)


def test_every_body_struct_forbids_unknown_fields() -> None:
    app, _ = app_and_schema()
    kinds = {kind for kind in request_bodies(app.routes).values()}
    assert len(kinds) >= 5
    structs = [struct for kind in kinds for struct in struct_types(kind)]
    lax = [s.__name__ for s in structs if not s.__struct_config__.forbid_unknown_fields]
    assert lax == []


def test_every_operation_documents_sendgrid_errors_security_and_v3_headers() -> None:
    _, schema = app_and_schema()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert schema["security"] == [{"bearer": []}]
    error = schema["components"]["schemas"]["ErrorBody"]
    assert error["required"] == ["errors"]
    for path, item in schema["paths"].items():
        for operation in item.values():
            responses = operation["responses"]
            for status in ("400", "401", "403", "404", "413", "500"):
                body = responses[status]["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/ErrorBody"}, (path, status)
            v3 = path.startswith("/v3/")
            assert ("429" in responses) == v3
            headers = responses["200" if "200" in responses else "400"].get("headers", {})
            assert ("X-RateLimit-Reset" in headers) == v3, path


def body_operations(schema: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(METHOD, path) → the JSON media type of its request body, for every operation with one."""
    return {
        (method.upper(), path): operation["requestBody"]["content"]["application/json"]
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    }


def test_every_request_body_has_an_example_and_every_example_an_operation() -> None:
    _, schema = app_and_schema()
    operations = body_operations(schema)
    assert len(operations) >= 25
    missing = sorted(op for op, media in operations.items() if "example" not in media)
    assert missing == [], f"add an example for each to control/schemas/examples.py: {missing}"
    assert sorted(set(REQUEST_EXAMPLES) - set(operations)) == []  # none left for a gone route


def test_every_example_fits_its_schema_and_the_decoder() -> None:
    app, schema = app_and_schema()
    bodies = request_bodies(app.routes)
    for (method, path), media in body_operations(schema).items():
        # Against the document (JSON Schema 2020-12, as OpenAPI 3.1), its $refs resolved...
        document_schema = {**media["schema"], "components": schema["components"]}
        validator = jsonschema_rs.Draft202012Validator(document_schema)
        errors = [error.message for error in validator.iter_errors(media["example"])]
        assert errors == [], (method, path, errors)
        # ... and by the decoder the handler runs on it.
        parse_json(msgspec.json.encode(media["example"]), bodies[(path, method.lower())])


def test_a_wrong_example_is_caught() -> None:
    # The check above can fail: an unknown field and a wrong type are both refused.
    _, schema = app_and_schema()
    media = body_operations(schema)[("POST", "/v3/api_keys")]
    validator = jsonschema_rs.Draft202012Validator(
        {**media["schema"], "components": schema["components"]}
    )
    assert not validator.is_valid({**media["example"], "colour": "blue"})
    assert not validator.is_valid({**media["example"], "scopes": "mail.send"})


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v3/mail/send", "mail"),
        ("/v3/templates/{template_id}/versions", "templates"),
        ("/v3/user/webhooks/event/settings", "user/webhooks"),
        ("/v3/user/scheduled_sends/{batch_id}", "user/scheduled_sends"),
        ("/api/admin/queue/{queue_id}/retry", "admin/queue"),
        ("/api/session", "session"),
        ("/v3/scopes", "scopes"),
    ],
)
def test_operations_are_grouped_by_the_resource_of_their_path(path: str, expected: str) -> None:
    assert tag(path) == expected


def test_every_operation_has_one_tag() -> None:
    _, schema = app_and_schema()
    tags = [op["tags"] for item in schema["paths"].values() for op in item.values()]
    assert all(len(found) == 1 for found in tags) and len({t[0] for t in tags}) >= 10
