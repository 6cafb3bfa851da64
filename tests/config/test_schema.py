"""schema.yml is the published contract: it must equal what the code generates."""

from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("schema") / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return str(path.read_text())


def test_schema_yml_equals_the_generated_schema(generated):
    assert (ROOT / "schema.yml").read_text() == generated, "run `make schema`"


def test_every_operation_is_documented(generated):
    schema = yaml.safe_load(generated)
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]

    assert len(operations) == 13
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        assert operation.get("tags"), where
        assert operation.get("description"), where
        assert any(code.startswith(("4", "5")) for code in operation["responses"]), where
        if method in {"post", "put", "patch"}:
            assert "requestBody" in operation, where


def test_authenticated_operations_use_the_bearer_scheme(generated):
    schema = yaml.safe_load(generated)
    public = {"/api/v1/auth/register/", "/api/v1/auth/login/", "/api/v1/auth/refresh/"}

    assert schema["components"]["securitySchemes"]["jwtAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            security = operation.get("security", [])
            if path in public:
                assert {"jwtAuth": []} not in security, path
            else:
                assert {"jwtAuth": []} in security, f"{method} {path}"
                assert "401" in operation["responses"], f"{method} {path}"


def test_chat_documents_the_402(generated):
    schema = yaml.safe_load(generated)

    assert "402" in schema["paths"]["/api/v1/chat/"]["post"]["responses"]
