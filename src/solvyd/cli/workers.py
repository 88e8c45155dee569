import typer

from solvyd.cli.api_client import ApiClient
from solvyd.cli.display import table_with_ids, when
from solvyd.cli.errors import CliError
from solvyd.cli.output import console, err_console

app = typer.Typer(help="Inspect, drain and resume worker agents.", no_args_is_help=True)


@app.command("list")
def list_workers() -> None:
    """List registered workers."""
    workers = ApiClient().get("/workers")["items"]
    table = table_with_ids("name", "status", "labels", "builds", "last heartbeat", "id")
    for worker in workers:
        table.add_row(
            worker["name"],
            worker["status"],
            ",".join(worker["labels"]),
            f"{worker['current_builds']}/{worker['concurrency']}",
            when(worker["last_heartbeat"]),
            worker["id"],
        )
    console.print(table)


def _worker_id(client: ApiClient, name_or_id: str) -> str:
    for worker in client.get("/workers")["items"]:
        if name_or_id in (worker["name"], worker["id"]):
            return str(worker["id"])
    raise CliError(f"no worker named {name_or_id!r}")


@app.command("drain")
def drain(worker: str = typer.Argument(help="The worker's name or id.")) -> None:
    """Stop giving a worker new builds; the ones it runs finish. `resume` undoes it."""
    client = ApiClient()
    result = client.post(f"/workers/{_worker_id(client, worker)}/drain")
    err_console.print(f"worker {result['name']} is {result['status']}")


@app.command("resume")
def resume(worker: str = typer.Argument(help="The worker's name or id.")) -> None:
    """Let a drained worker claim builds again."""
    client = ApiClient()
    result = client.post(f"/workers/{_worker_id(client, worker)}/resume")
    err_console.print(f"worker {result['name']} is {result['status']}")


@app.command("rm")
def remove(worker: str = typer.Argument(help="The worker's name or id.")) -> None:
    """Forget a worker that is gone for good: its token stops working and its name is free
    to register again. Refused while it holds builds."""
    client = ApiClient()
    client.request("DELETE", f"/workers/{_worker_id(client, worker)}")
    err_console.print(f"removed worker {worker}")
