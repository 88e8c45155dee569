"""The agent <-> server wire contract: every message both sides exchange, and its version."""

from solvyd.protocol.messages import (
    PROTOCOL_VERSION,
    BuildStatus,
    BuildStatusUpdate,
    CancelState,
    Capabilities,
    ClaimRequest,
    Heartbeat,
    HeartbeatReply,
    JobSpec,
    LogBatch,
    LogLine,
    StepSpec,
    StepStatus,
    StepStatusUpdate,
    WorkerRegistered,
    WorkerRegistration,
)

__all__ = [
    "PROTOCOL_VERSION",
    "BuildStatus",
    "BuildStatusUpdate",
    "CancelState",
    "Capabilities",
    "ClaimRequest",
    "Heartbeat",
    "HeartbeatReply",
    "JobSpec",
    "LogBatch",
    "LogLine",
    "StepSpec",
    "StepStatus",
    "StepStatusUpdate",
    "WorkerRegistered",
    "WorkerRegistration",
]
