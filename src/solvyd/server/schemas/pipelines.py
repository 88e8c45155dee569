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
    # The setting at fault, e.g. "steps[1].commands"; "" for the document as a whole, a
    # YAML syntax error, or the hint that the file is another CI system's format.
    field: str
    message: str


class PipelineValidation(BaseModel):
    valid: bool
    # Steps the pipeline has once its matrices are expanded; 0 when it is not valid.
    steps: int
    errors: list[PipelineProblem]
    # Valid but probably not meant, e.g. an unquoted `3.10` that YAML reads as 3.1; given
    # whether or not the pipeline is valid, and never a reason to refuse it.
    warnings: list[PipelineProblem]
