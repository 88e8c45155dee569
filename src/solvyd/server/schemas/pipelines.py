from pydantic import BaseModel, ConfigDict


class PipelineValidationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # YAML text, as a job's `pipeline` takes it (and bounded the same way: by the request
    # body limit).
    pipeline: str


class PipelineProblem(BaseModel):
    # 1-based; null when the problem has no place in the text.
    line: int | None
    column: int | None
    # The setting at fault, e.g. "steps[1].commands"; "" for the document as a whole.
    field: str
    message: str


class PipelineValidation(BaseModel):
    valid: bool
    # Steps the pipeline has once its matrices are expanded; 0 when it is not valid.
    steps: int
    errors: list[PipelineProblem]
