"""How the CLI shows things: tables whose id column is never cut, times without microseconds."""

from datetime import datetime

from rich.table import Column, Table


def table_with_ids(*headers: str) -> Table:
    # An id is what the next command needs, so it is never cut.
    columns = [Column(h, no_wrap=True, min_width=36 if h == "id" else None) for h in headers]
    return Table(*columns)


def when(value: str | None) -> str:
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return str(value)  # not a time after all: shown as the server sent it
