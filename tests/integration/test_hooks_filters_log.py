"""A job's webhook settings (secret, trigger events, branches, paths) through the jobs API,
the filters at work on real deliveries, the delivery log (no secrets in it) and replay."""

import uuid
from datetime import timedelta

import httpx
import pytest

from solvyd.server.services.hooks.deliveries import prune_deliveries
from solvyd.shared.clock import utcnow
from tests.integration.api_helpers import API, admin_headers, assert_error, user_headers
from tests.integration.test_hooks_receive import (
    FORGES,
    GH_REPO,
    GL_PROJECT,
    GT_REPO,
    SECRET,
    build_of,
    builds_of,
    create_job,
    post,
)
from tests.support.forge_payloads import bitbucket, gitea, github, gitlab, sign

# The headers each forge puts its secret or signature in, from its webhook docs: GitHub's
# "Delivery headers" (X-Hub-Signature, X-Hub-Signature-256), GitLab's X-Gitlab-Token (and,
# from 19.0 with a signing token, Standard Webhooks' webhook-signature), Gitea's
# X-Gitea-Signature beside its X-Gogs-* and X-Hub-* twins, Forgejo's X-Forgejo-Signature,
# Bitbucket's X-Hub-Signature.
EVERY_FORGES_SECRET_HEADERS = (
    "X-Hub-Signature",
    "X-Hub-Signature-256",
    "X-Gitlab-Token",
    "webhook-signature",
    "X-Gitea-Signature",
    "X-Gogs-Signature",
    "X-Forgejo-Signature",
)


async def test_the_webhook_secret_is_write_only_and_settings_validated(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, GH_REPO["clone_url"])
    assert job["has_webhook_secret"] is True
    assert SECRET not in str(job)
    assert job["trigger_events"] == ["push", "tag", "pull_request"]
    assert (job["branches"], job["paths"]) == ([], [])
    url = f"{API}/jobs/{job['id']}"
    for bad in (
        {"webhook_secret": "short"},
        {"webhook_secret": "has a space in it"},
        {"trigger_events": ["push", "merge"]},
        {"branches": [""]},
        {"branches": ["*"] * 51},
        {"paths": ["a\x01b"]},
        {"trigger_events": None},
    ):
        response = await client.patch(url, headers=admin, json=bad)
        assert response.status_code == 422, (bad, response.text)
        assert "short" not in response.text and "has a space" not in response.text
    changed = await client.patch(
        url,
        headers=admin,
        json={"trigger_events": ["tag"], "branches": ["release/*"], "paths": ["src/**"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["trigger_events"] == ["tag"]
    removed = await client.patch(url, headers=admin, json={"webhook_secret": None})
    assert removed.json()["has_webhook_secret"] is False
    audit = await client.get(f"{API}/audit", headers=admin)
    assert SECRET not in audit.text


async def test_trigger_events_branches_and_paths_filter_deliveries(
    client: httpx.AsyncClient,
) -> None:
    job = await create_job(
        client,
        GH_REPO["clone_url"],
        trigger_events=["push", "pull_request"],
        branches=["main", "release/*"],
        paths=["src/**", "*.toml"],
    )

    async def reasons(request: github.HookRequest) -> list[str]:
        response = await post(client, sign(request, SECRET))
        assert response.status_code == 202, response.text
        return [i["reason"] for i in response.json()["ignored"]]

    tag = github.push(repo=GH_REPO, ref="refs/tags/v1")
    assert "trigger_events leave out tag" in (await reasons(tag))[0]
    feature = github.push(repo=GH_REPO, ref="refs/heads/feature", files={"added": ["src/a.py"]})
    assert "matches none of the job's branches" in (await reasons(feature))[0]
    docs = github.push(repo=GH_REPO, files={"modified": ["docs/a.md", "src.txt"]})
    assert "no changed file matches" in (await reasons(docs))[0]
    assert await builds_of(client, job["id"]) == []

    code = github.push(repo=GH_REPO, ref="refs/heads/release/2", files={"removed": ["src/x/y.py"]})
    assert await reasons(code) == []
    toml = github.push(repo=GH_REPO, files={"modified": ["pyproject.toml"]})
    assert await reasons(toml) == []
    # A pull request is matched by its target branch; its files are not listed: it builds.
    into_main = github.pull_request(repo=GH_REPO, base_ref="main", head_ref="topic")
    assert await reasons(into_main) == []
    into_topic = github.pull_request(repo=GH_REPO, base_ref="topic", number=2)
    assert "'topic' matches none" in (await reasons(into_topic))[0]
    # Bitbucket lists no files: the paths filter cannot apply, the push builds.
    bb_job = await create_job(client, "https://bitbucket.org/team/project", paths=["src/**"])
    response = await post(
        client, sign(bitbucket.push(repo=bitbucket.repository("team", "project")), SECRET)
    )
    assert [b["job_id"] for b in response.json()["builds"]] == [bb_job["id"]]
    # GitLab lists 20 commits at most: beyond, the files are unknown and the push builds.
    gl_job = await create_job(client, GL_PROJECT["web_url"], paths=["src/**"])
    many = gitlab.push(proj=GL_PROJECT, files={"modified": ["README.md"]}, total_commits=40)
    response = await post(client, sign(many, SECRET))
    assert [b["job_id"] for b in response.json()["builds"]] == [gl_job["id"]]
    assert [b.trigger for b in await builds_of(client, job["id"])] == [
        "push",
        "push",
        "pull_request",
    ]


async def test_a_push_whose_payload_cut_its_list_of_changes_is_not_filtered_by_paths(
    client: httpx.AsyncClient,
) -> None:
    """When the payload may not list every changed file, the paths filter cannot know the push
    touches none of its paths: it builds. Gitea lists a few commits (its feed's limit) and says
    how many were pushed in `total_commits` (PushPayload, modules/structs/hook.go); GitHub's
    push event lists "a maximum of 2048 commits" and "a maximum of 3000 changed files ... per
    commit" (the push event's `commits` and `added`)."""
    gitea_job = await create_job(client, GT_REPO["clone_url"], paths=["src/**"])
    github_job = await create_job(client, GH_REPO["clone_url"], paths=["src/**"])

    async def built(request: github.HookRequest) -> bool:
        response = await post(client, sign(request, SECRET))
        assert response.status_code == 202, response.text
        return bool(response.json()["builds"])

    readme = {"modified": ["README.md"]}
    assert not await built(gitea.push(repo=GT_REPO, files=readme, total_commits=1))
    assert await built(gitea.push(repo=GT_REPO, files=readme, total_commits=6))

    listed = github.push(repo=GH_REPO, files=readme)
    assert not await built(listed)
    [commit] = listed.payload["commits"]

    def another_push(commits: list[dict[str, object]]) -> github.HookRequest:
        request = listed.with_payload(listed.payload | {"commits": commits})
        request.headers["X-GitHub-Delivery"] = str(uuid.uuid4())
        return request

    many = [commit | {"id": f"{n:040x}"} for n in range(1, 2048)] + [commit]
    assert await built(another_push(many))
    assert not await built(another_push(many[1:]))
    # 3000 files with the modified README.md.
    crowded = commit | {"added": [f"docs/{n}.md" for n in range(2999)]}
    assert await built(another_push([crowded]))
    assert not await built(another_push([crowded | {"added": crowded["added"][1:]}]))
    assert [len(await builds_of(client, j["id"])) for j in (gitea_job, github_job)] == [1, 2]


async def test_a_gitlab_update_builds_only_with_new_commits(client: httpx.AsyncClient) -> None:
    job = await create_job(client, GL_PROJECT["git_http_url"])
    title_only = gitlab.merge_request(proj=GL_PROJECT, action="update")
    response = await post(client, sign(title_only, SECRET))
    assert "without new commits" in response.json()["ignored"][0]["reason"]
    pushed = gitlab.merge_request(proj=GL_PROJECT, action="update", oldrev="a" * 40)
    response = await post(client, sign(pushed, SECRET))
    assert len(response.json()["builds"]) == 1
    assert len(await builds_of(client, job["id"])) == 1


async def test_the_delivery_log_hides_secrets_and_replays(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, GH_REPO["clone_url"])
    other = await create_job(client, "https://github.com/octo-org/other")
    request = sign(github.push(repo=GH_REPO), SECRET)
    request.headers |= {"Authorization": "Basic c2VjcmV0", "Cookie": "session=secret"}
    first = (await post(client, request)).json()
    forged = sign(github.push(repo=GH_REPO), "not-the-secret")
    assert_error(await post(client, forged), 401)

    listed = await client.get(f"{API}/hooks/deliveries", headers=admin)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [i["outcome"] for i in items] == ["rejected", "accepted"]
    for forbidden in ("X-Hub-Signature-256", "sha256=", "c2VjcmV0", "session=secret", SECRET):
        assert forbidden.lower() not in listed.text.lower()
    accepted = items[1]
    assert accepted["delivery_id"] == request.headers["X-GitHub-Delivery"]
    assert accepted["event"] == "push"
    assert accepted["headers"]["x-github-event"] == "push"
    assert accepted["body"] == request.body.decode()
    assert accepted["build_ids"] == [b["id"] for b in first["builds"]]

    # The forged request named the job's repository: listed under the job too (refused).
    mine = await client.get(f"{API}/hooks/deliveries", headers=admin, params={"job_id": job["id"]})
    assert [i["id"] for i in mine.json()["items"]] == [items[0]["id"], accepted["id"]]
    none = await client.get(
        f"{API}/hooks/deliveries", headers=admin, params={"job_id": other["id"]}
    )
    assert none.json()["items"] == []
    page = await client.get(f"{API}/hooks/deliveries", headers=admin, params={"limit": 1})
    assert page.json()["next_cursor"]
    rest = await client.get(
        f"{API}/hooks/deliveries",
        headers=admin,
        params={"limit": 1, "cursor": page.json()["next_cursor"]},
    )
    assert [i["id"] for i in rest.json()["items"]] == [accepted["id"]]
    one = await client.get(f"{API}/hooks/deliveries/{accepted['id']}", headers=admin)
    assert one.json() == accepted

    replayed = await client.post(f"{API}/hooks/deliveries/{accepted['id']}/replay", headers=admin)
    assert replayed.status_code == 202, replayed.text
    assert [b["number"] for b in replayed.json()["builds"]] == [2]
    assert len(await builds_of(client, job["id"])) == 2
    newest = (await client.get(f"{API}/hooks/deliveries", headers=admin)).json()["items"][0]
    assert newest["replay_of"] == accepted["id"]
    # What nobody verified is not replayed.
    rejected = items[0]
    refused = await client.post(f"{API}/hooks/deliveries/{rejected['id']}/replay", headers=admin)
    assert_error(refused, 409)
    developer = await user_headers(client, admin, "developer")
    assert (await client.get(f"{API}/hooks/deliveries", headers=developer)).status_code == 403


async def test_a_refused_delivery_shows_on_the_pages_of_its_repositorys_jobs(
    client: httpx.AsyncClient,
) -> None:
    """A job's owner must see that the forge's deliveries fail (a secret pasted wrong, or
    none set): a 401 is listed under every job of the repository it names, builds nothing
    and cannot be replayed."""
    admin = await admin_headers(client)
    wrong = await create_job(client, GH_REPO["clone_url"])
    unset = await create_job(client, GH_REPO["ssh_url"], secret=None)
    elsewhere = await create_job(client, "https://github.com/octo-org/another")
    request = github.push(repo=GH_REPO)
    assert_error(await post(client, sign(request, "pasted-the-wrong-secret")), 401)

    async def listed(job: dict[str, str]) -> list[dict[str, object]]:
        response = await client.get(
            f"{API}/hooks/deliveries", headers=admin, params={"job_id": job["id"]}
        )
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    [seen] = await listed(wrong)
    assert (seen["outcome"], seen["status_code"]) == ("rejected", 401)
    assert seen["delivery_id"] == request.headers["X-GitHub-Delivery"]
    # Linked for its owners to see, not verified by them.
    assert seen["job_ids"] == [] and seen["build_ids"] == []
    assert [i["id"] for i in await listed(unset)] == [seen["id"]]
    assert await listed(elsewhere) == []
    for job in (wrong, unset):
        assert await builds_of(client, job["id"]) == []
    replay = await client.post(f"{API}/hooks/deliveries/{seen['id']}/replay", headers=admin)
    assert_error(replay, 409)


async def test_old_deliveries_are_pruned(client: httpx.AsyncClient) -> None:
    job = await create_job(client, GH_REPO["clone_url"])
    await post(client, sign(github.push(repo=GH_REPO), SECRET))
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    assert await prune_deliveries(ctx, utcnow()) == 0
    assert await prune_deliveries(ctx, utcnow() + timedelta(days=31)) == 1
    admin = await admin_headers(client)
    listed = await client.get(
        f"{API}/hooks/deliveries", headers=admin, params={"job_id": job["id"]}
    )
    assert listed.json()["items"] == []


@pytest.mark.parametrize("forge", sorted(FORGES))
async def test_no_forges_secret_is_logged_whichever_endpoint_received_it(
    client: httpx.AsyncClient, forge: str
) -> None:
    """A sender set up for several forges (or a careless proxy) may send another forge's
    secret header to this endpoint: it is a secret all the same, accepted or refused."""
    admin = await admin_headers(client)
    job = await create_job(client, FORGES[forge]["scm_url"])
    leaked = {
        name: f"leaked-{name.lower()}-0123456789abcdef" for name in EVERY_FORGES_SECRET_HEADERS
    }
    unsigned = build_of(forge, "push")()
    signed = sign(unsigned, SECRET)
    signature = {k: v for k, v in signed.headers.items() if k not in unsigned.headers}
    assert signature
    signed.headers |= {k: v for k, v in leaked.items() if k not in signature}
    accepted = await post(client, signed)
    assert accepted.status_code == 202, accepted.text
    refused = build_of(forge, "push")()
    refused.headers |= leaked
    assert_error(await post(client, refused), 401)

    listed = await client.get(f"{API}/hooks/deliveries", headers=admin)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [(i["outcome"], i["job_ids"]) for i in items] == [
        ("rejected", []),
        ("accepted", [job["id"]]),
    ]
    assert all(i["headers"]["content-type"] == "application/json" for i in items)
    for name in EVERY_FORGES_SECRET_HEADERS:
        assert name.lower() not in listed.text.lower()
    for secret in (*leaked.values(), *signature.values(), SECRET):
        assert secret not in listed.text
