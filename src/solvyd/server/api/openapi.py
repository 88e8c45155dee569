"""The OpenAPI document, with each operation's access rule as `x-solvyd-access`."""

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from solvyd.server.api.deps import route_access

# What an operation that declares no rule (or several) shows: the route-by-role test fails.
UNDECLARED = "undeclared"


def access_by_operation(routers: Iterable[APIRouter]) -> dict[str, str]:
    rules: dict[str, str] = {}
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.operation_id:
                found = route_access(route)
                rules[route.operation_id] = (
                    next(iter(found)).value if len(found) == 1 else UNDECLARED
                )
    return rules


def document_access(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    rules = access_by_operation(routers)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        for operations in schema["paths"].values():
            for operation in operations.values():
                operation["x-solvyd-access"] = rules.get(operation.get("operationId"), UNDECLARED)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
