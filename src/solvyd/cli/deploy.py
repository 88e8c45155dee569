"""`solvyd deploy ...`: environments, their deployment history, approvals and rollback."""

from typing import Any

import typer

from solvyd.cli.api_client import ApiClient
from solvyd.cli.display import table_with_ids, when
from solvyd.cli.output import console

app = typer.Typer(
    help="Environments and deployments: list, history, approve, reject, roll back.",
    no_args_is_help=True,
)

DEPLOYMENT = typer.Argument(..., metavar="DEPLOYMENT", help="The deployment's id.")
ENVIRONMENT = typer.Argument(..., metavar="ENVIRONMENT", help="The environment's name.")


def _build(item: dict[str, Any]) -> str:
    job, number = item.get("job_name"), item.get("build_number")
    return f"{job} #{number}" if number is not None else ""


def _commit(item: dict[str, Any]) -> str:
    return (item.get("commit_sha") or "")[:12]


def _describe(deployment: dict[str, Any]) -> str:
    state = deployment["status"]
    if deployment.get("waiting_reason"):
        state += f" ({deployment['waiting_reason']})"
    return (
        f"deployment #{deployment['number']} to {deployment['environment']} "
        f"({deployment['kind']}): {deployment['version']}: {state}"
    )


@app.command("environments")
def environments() -> None:
    """List the environments and what runs in each."""
    items = ApiClient().get("/environments")["items"]
    table = table_with_ids("environment", "version", "build", "commit", "since", "by", "state")
    for env in items:
        current = env.get("current") or {}
        state = "approval required" if env["approval_required"] else ""
        if env.get("running"):
            state = ", ".join(filter(None, [state, f"deploying #{env['running']['number']}"]))
        if env.get("waiting"):
            state = ", ".join(filter(None, [state, f"{env['waiting']} waiting"]))
        table.add_row(
            env["name"],
            current.get("version", ""),
            _build(current),
            _commit(current),
            when(current.get("since")),
            current.get("deployed_by") or "",
            state,
        )
    console.print(table)


@app.command("history")
def history(
    environment: str = ENVIRONMENT,
    limit: int = typer.Option(20, "--limit", min=1, max=200),
) -> None:
    """The environment's deployments, newest first."""
    found = ApiClient().get(f"/environments/{environment}", params={"limit": limit})
    table = table_with_ids("#", "id", "kind", "status", "version", "build", "by", "finished")
    for item in found["history"]:
        status = item["status"]
        if item.get("waiting_reason"):
            status += f" ({item['waiting_reason']})"
        table.add_row(
            str(item["number"]),
            item["id"],
            item["kind"],
            status,
            item["version"],
            _build(item),
            item.get("requested_by") or "",
            when(item.get("finished_at")),
        )
    console.print(table)


@app.command("approve")
def approve(deployment: str = DEPLOYMENT) -> None:
    """Let a deployment that waits for approval go."""
    console.print(_describe(ApiClient().post(f"/deployments/{deployment}/approve")))


@app.command("reject")
def reject(
    deployment: str = DEPLOYMENT,
    reason: str | None = typer.Option(None, "--reason", help="Why (kept with the deployment)."),
) -> None:
    """Refuse a deployment that waits for approval (its deploy step fails)."""
    body = {"reason": reason} if reason else None
    console.print(_describe(ApiClient().post(f"/deployments/{deployment}/reject", body)))


@app.command("rollback")
def rollback(
    environment: str = ENVIRONMENT,
    to: str | None = typer.Option(
        None,
        "--to",
        metavar="ID",
        help="Redeploy this deployment's version (default: the one before the current).",
    ),
) -> None:
    """Redeploy an earlier successful version of ENVIRONMENT as a new deployment."""
    body = {"deployment_id": to} if to else None
    console.print(_describe(ApiClient().post(f"/environments/{environment}/rollback", body)))
