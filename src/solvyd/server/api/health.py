import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from solvyd import __version__
from solvyd.server.api.deps import Ctx, Public

router = APIRouter(tags=["health"], dependencies=[Public])


@router.get("/healthz", operation_id="healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get("/readyz", operation_id="readyz")
async def readyz(ctx: Ctx) -> JSONResponse:
    try:
        async with ctx.db.engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))
    except Exception:
        return JSONResponse({"status": "database unavailable"}, status_code=503)
    return JSONResponse({"status": "ready"})
