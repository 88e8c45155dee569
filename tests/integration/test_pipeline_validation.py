"""POST /pipelines/validate: what `solvyd lint` says, for the UI's editor: always 200, with the
step count after matrix expansion, or each problem's line, column, field and message."""

import httpx
import pytest

from tests.integration.api_helpers import API, Headers, admin_headers, assert_error, user_headers

URL = f"{API}/pipelines/validate"
MATRIX = """\
steps:
  - name: test
    commands: [echo $PY]
    matrix:
      PY: ['3.11', '3.12', '3.13']
  - name: lint
    commands: [ruff check]
"""
# Line 5 misspells `commands`, so the step at line 4 lacks it.
MISSPELT = """\
steps:
  - name: build
    commands: [echo hi]
  - name: test
    comands: [echo ok]
"""


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Headers:
    return await admin_headers(client)


async def test_a_valid_pipeline_counts_its_steps_after_matrix_expansion(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    response = await client.post(URL, headers=admin, json={"pipeline": MATRIX})
    assert response.status_code == 200, response.text
    assert response.json() == {"valid": True, "steps": 4, "errors": [], "warnings": []}


async def test_problems_name_their_line_column_and_field(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    response = await client.post(URL, headers=admin, json={"pipeline": MISSPELT})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["valid"], body["steps"]) == (False, 0)
    missing, misspelt = body["errors"]
    assert (missing["line"], missing["column"], missing["field"]) == (4, 5, "steps[1].commands")
    assert missing["message"] == "field required"
    assert (misspelt["line"], misspelt["column"], misspelt["field"]) == (5, 5, "steps[1].comands")
    assert "did you mean 'commands'" in misspelt["message"]


async def test_bad_yaml_and_an_empty_text_are_answered_too(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    broken = await client.post(URL, headers=admin, json={"pipeline": "steps: [\n  - a: 1\n"})
    assert broken.status_code == 200, broken.text
    [problem] = broken.json()["errors"]
    assert broken.json()["valid"] is False
    assert problem["message"].startswith("invalid YAML")
    assert isinstance(problem["line"], int)

    empty = await client.post(URL, headers=admin, json={"pipeline": ""})
    assert empty.status_code == 200, empty.text
    [problem] = empty.json()["errors"]
    assert (problem["line"], problem["column"], problem["field"]) == (None, None, "")


async def test_a_body_of_another_shape_is_422_and_a_viewer_is_refused(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    assert_error(await client.post(URL, headers=admin, json={"pipeline": {"steps": []}}), 422)
    assert_error(await client.post(URL, headers=admin, json={"yaml": MATRIX}), 422)
    viewer = await user_headers(client, admin, "viewer")
    assert_error(await client.post(URL, headers=viewer, json={"pipeline": MATRIX}), 403)


INDENTED = """\
steps:
  - name: lint
    commands: [ruff check]
  - name: test
     commands: [pytest]
"""


async def test_a_yaml_syntax_error_is_422_with_its_place_and_setting(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    response = await client.post(
        f"{API}/jobs", headers=admin, json={"name": "indent", "pipeline": INDENTED}
    )
    message = assert_error(response, 422, "invalid")
    assert message == (
        "job indent:5:6: steps[1]: invalid YAML: this line is indented more than the block it "
        "belongs to (YAML reads it as the rest of the line above); align it with its siblings"
    )
    [detail] = response.json()["error"]["details"]
    assert (detail["line"], detail["column"], detail["field"]) == (5, 6, "steps[1]")
    assert (await client.get(f"{API}/jobs", headers=admin, params={"name": "indent"})).json()[
        "items"
    ] == []


async def test_validation_reports_every_problem_a_hint_and_the_warnings(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    github = "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    env: {PY: 3.10}\n"
    response = await client.post(URL, headers=admin, json={"pipeline": github})
    assert response.status_code == 200, response.text
    body = response.json()
    hint, *problems = body["errors"]
    assert (hint["line"], hint["field"]) == (2, "")
    assert hint["message"].startswith("this looks like a GitHub Actions workflow")
    assert [p["field"] for p in problems] == ["steps", "on", "jobs"]
    assert body["warnings"] == []  # `jobs` is no setting of Solvyd's: nothing to warn about

    mixed = (
        "env: {PY: 3.10}\nsteps:\n  - name: a\n    commands: [x]\n    depends_on: [b]\n"
        "    colour: red\n  - name: a\n    commands: [y]\n"
    )
    body = (await client.post(URL, headers=admin, json={"pipeline": mixed})).json()
    assert [(p["line"], p["field"]) for p in body["errors"]] == [
        (5, "steps[0].depends_on"),
        (6, "steps[0].colour"),
        (7, "steps[1].name"),
    ]
    [warning] = body["warnings"]
    assert (warning["line"], warning["column"], warning["field"]) == (1, 11, "env.PY")
    assert warning["message"].endswith('quote it to keep it as written: "3.10"')


async def test_a_valid_pipeline_with_a_float_version_is_valid_and_warned_about(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    text = MATRIX.replace("['3.11', '3.12', '3.13']", "[3.10, 3.11]")
    body = (await client.post(URL, headers=admin, json={"pipeline": text})).json()
    assert (body["valid"], body["steps"], body["errors"]) == (True, 3, [])
    [warning] = body["warnings"]
    assert (warning["line"], warning["field"]) == (5, "steps[0].matrix.PY[0]")
