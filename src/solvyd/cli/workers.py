import typer

from solvyd.cli.api_client import ApiClient
from solvyd.cli.display import table_with_ids, when
from solvyd.cli.output import console

app = typer.Typer(help="Inspect worker agents.", no_args_is_help=True)


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
