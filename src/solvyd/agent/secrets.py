"""A build's secrets on the agent: fetched once the plan is known, masked before any step runs,
and set only in the environment of the steps that name them.

The values never enter the spec the server stored or the one the agent keeps for the build
(`BuildHandle.spec`): they live in per-step copies of the plan handed to the runtime. A name
that is not set (or withheld, for a build from a fork) does not stop the step, as in GitHub
Actions: the variable is simply absent, and the step's log says so at its start.
"""

from dataclasses import dataclass, field

from solvyd.agent.checkout import CheckoutError, GitCredentials, credentials_from_secret
from solvyd.agent.client import Rejected, ServerClient, ServerUnavailable, with_retries
from solvyd.protocol import JobSpec, SecretsReply, SecretsRequest

# How long the agent keeps asking an unreachable server for the secrets before the build ends
# as `error` (it cannot run the steps without them).
FETCH_DEADLINE_SECONDS = 60.0


class SecretsUnavailable(Exception):
    """The server did not hand out the build's secrets; the build cannot start its steps."""


@dataclass
class StepNotices:
    """Lines a step's log starts with: which of its secrets are not set, and why."""

    lines: dict[str, list[str]] = field(default_factory=dict)

    def for_step(self, step: str) -> list[str]:
        return self.lines.get(step, [])


def requested(spec: JobSpec) -> list[str]:
    """Every secret name the plan's steps ask for, once each."""
    return sorted({name for step in spec.steps for name in step.secrets})


async def fetch(
    client: ServerClient, spec: JobSpec, names: list[str] | None = None
) -> SecretsReply:
    """The values of `names` (default: every name the plan's steps ask for)."""
    names = requested(spec) if names is None else names
    if not names:
        return SecretsReply()
    request = SecretsRequest(names=names, attempt=spec.attempt)
    try:
        return await with_retries(
            lambda: client.fetch_secrets(spec.build_id, request),
            "fetch the build's secrets",
            give_up_after=FETCH_DEADLINE_SECONDS,
        )
    except (Rejected, ServerUnavailable) as exc:
        raise SecretsUnavailable(f"fetching the build's secrets failed: {exc}") from exc


async def checkout_credentials(client: ServerClient, spec: JobSpec) -> GitCredentials | None:
    """The credentials the job's checkout uses (`spec.checkout_credentials` names the
    secret), or None without one. Raises `CheckoutError` naming the secret (never its value)
    when it is not set or not usable, and `SecretsUnavailable` when the server cannot be
    asked."""
    value = await checkout_credentials_text(client, spec)
    return None if value is None else parse_checkout_credentials(spec, value)


async def checkout_credentials_text(client: ServerClient, spec: JobSpec) -> str | None:
    """The text of the job's checkout credentials secret (what the checkout step is given),
    or None without one; raises as `checkout_credentials`, also when the text is not usable."""
    name = spec.checkout_credentials
    if not name:
        return None
    reply = await fetch(client, spec, [name])
    value = reply.values.get(name)
    if value is None:
        why = f" ({reply.reason})" if reply.reason else ""
        raise CheckoutError(
            f"the checkout credentials secret {name} is not set for this build{why}: "
            f"set it with `solvyd secrets set {name} --job {spec.job_name}`"
        )
    parse_checkout_credentials(spec, value)
    return value


def parse_checkout_credentials(spec: JobSpec, value: str) -> GitCredentials:
    try:
        return credentials_from_secret(value)
    except CheckoutError as exc:
        raise CheckoutError(
            f"the checkout credentials secret {spec.checkout_credentials}: {exc}"
        ) from None


def with_secrets(spec: JobSpec, values: dict[str, str]) -> JobSpec:
    """A copy of the plan where each step that names a secret has its value in its own
    `secret_env` (given to the step as env over `env`, never serialised). Other steps, and
    the env shared by all steps, are left as they were; nothing of `spec` is changed."""
    steps = [
        step.model_copy(
            update={
                "secret_env": {
                    **step.secret_env,
                    **{n: values[n] for n in step.secrets if n in values},
                }
            }
        )
        if step.secrets
        else step
        for step in spec.steps
    ]
    return spec.model_copy(update={"steps": steps})


def missing_notices(spec: JobSpec, reply: SecretsReply) -> StepNotices:
    notices = StepNotices()
    why = f": {reply.reason}" if reply.reason else ""
    for step in spec.steps:
        lines = [
            f"[solvyd: secret {name} is not set{why}]"
            for name in step.secrets
            if name not in reply.values
        ]
        if lines:
            notices.lines[step.name] = lines
    return notices
