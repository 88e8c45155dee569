from fastapi import APIRouter

from solvyd.server.api.deps import AsDeveloper
from solvyd.server.schemas.pipelines import PipelineValidation, PipelineValidationRequest
from solvyd.server.services import pipelines

router = APIRouter(prefix="/pipelines", tags=["pipelines"])


@router.post("/validate", operation_id="validate_pipeline")
async def validate_pipeline(_: AsDeveloper, body: PipelineValidationRequest) -> PipelineValidation:
    """Check a pipeline as a job would take it, without storing it: always 200, with `valid`,
    the number of `steps` once matrices are expanded, and each problem's place and message."""
    return await pipelines.validate_pipeline(body.pipeline)
