"""What `solvyd lint` and the server say about a pipeline file: YAML syntax errors in the
user's terms with the line and a caret, a hint for another CI system's file, every problem in
one pass, and warnings for unquoted values YAML reads as numbers or booleans."""

import re
import textwrap
from pathlib import Path

import pytest
import yaml as pyyaml

from solvyd.pipeline.config import PipelineError, check_pipeline, parse_pipeline
from solvyd.pipeline.config.errors import render_report
from solvyd.pipeline.config.foreign import foreign_format

ROOT = Path(__file__).resolve().parents[3]


def yaml(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def errors_of(text: str, filename: str = ".solvyd.yml") -> PipelineError:
    with pytest.raises(PipelineError) as caught:
        check_pipeline(text, filename)
    return caught.value


def report(text: str, filename: str = ".solvyd.yml") -> str:
    try:
        checked = check_pipeline(text, filename)
    except PipelineError as exc:
        return "\n".join(render_report(filename, text, exc.errors, exc.warnings))
    return "\n".join(render_report(filename, text, [], checked.warnings))


# -- YAML syntax errors -------------------------------------------------------------------


def test_a_line_indented_more_than_its_block() -> None:
    text = "steps:\n  - name: a\n    commands: [x]\n  - name: b\n     commands: [y]\n"
    assert report(text, "indent.yml") == (
        "indent.yml:5:6: steps[1]: invalid YAML: this line is indented more than the block it "
        "belongs to (YAML reads it as the rest of the line above); align it with its siblings\n"
        "         commands: [y]\n"
        "         ^"
    )


def test_a_tab_that_indents() -> None:
    text = "steps:\n  - name: a\n    commands:\n\t- make\n"
    assert report(text) == (
        ".solvyd.yml:4:1: steps[0].commands: invalid YAML: a tab character cannot indent YAML; "
        "indent with spaces\n"
        "    \t- make\n"
        "    ^"
    )


def test_a_tab_between_a_key_and_its_value() -> None:
    [item] = errors_of("env:\n  A:\t1\nsteps: []\n").errors
    assert (item.line, item.column) == (2, 5)
    assert (
        item.message == "invalid YAML: a tab character cannot separate values in YAML; use spaces"
    )


def test_a_value_with_a_colon_and_a_space() -> None:
    text = "steps:\n  - name: a\n    commands: echo a: b\n"
    assert report(text) == (
        ".solvyd.yml:3:21: steps[0]: invalid YAML: a mapping value is not allowed here; quote a "
        "value that contains ': '\n"
        "        commands: echo a: b\n"
        "                        ^"
    )


def test_an_unclosed_quote_points_where_it_opens() -> None:
    text = 'steps:\n  - name: "build\n    commands: [make]\n'
    assert report(text) == (
        ".solvyd.yml:2:11: steps[0].name: invalid YAML: unclosed quote: this quoted value has no "
        "closing quote\n"
        '      - name: "build\n'
        "              ^"
    )


@pytest.mark.parametrize(
    ("text", "field", "where", "message"),
    [
        (
            "steps:\n  - name: a\n    commands: [make, test\n  - name: b\n",
            "steps[0].commands",
            (4, 9),
            "the list opened with '[' at line 3 column 15 is not closed with ']' "
            "(or a ',' is missing)",
        ),
        (
            "env: {A: 1\nsteps: []\n",
            "env",
            (2, 6),
            "the mapping opened with '{' at line 1 column 6 is not closed with '}' "
            "(or a ',' is missing)",
        ),
        (
            "steps:\n  - name: a\n    commands: [x]\n   env: {}\n",
            "steps",
            (4, 4),
            "this line is not aligned with the block that starts at line 2; indent it exactly "
            "like the lines it belongs with",
        ),
        (
            "image: alpine\n- name: b\n",
            "",
            (2, 1),
            "a list item ('-') where a key of the mapping that starts at line 1 was expected; "
            "check the indentation",
        ),
        ('env:\n  A: "x" y\n', "env", (2, 10), "text after a quoted value; quote the whole value"),
        (
            "env:\n  A: @x\n",
            "env.A",
            (2, 6),
            "a value cannot start with '@' in YAML; quote the value",
        ),
        (
            "steps:\n  - name: a\n    artifacts:\n      - *.whl\n",
            "steps[0].artifacts",
            (4, 10),
            "'*' starts an alias in YAML; quote a value that starts with '*'",
        ),
        ("env:\n  A: !x y\n", "", (2, 6), "unknown tag '!x'; quote a value that starts with '!'"),
        (
            "steps:\n  - name: a\n    when:\n[     branch: main\n    commands: [x]\n",
            "",
            (4, 1),
            "YAML reads this line as a key, but no ':' follows it before the next line; add the "
            "':' (or quote the text if it is a value)",
        ),
        (
            '"steps"\nimage: alpine\n',
            "",
            (2, 1),
            "YAML read the whole file as ending before this point; look above it for a stray "
            "quote or bracket, or a first line indented differently from the rest",
        ),
        (
            "steps: []\n---\nsteps: []\n",
            "",
            (2, 1),
            "a pipeline file holds one YAML document; remove the '---' separator",
        ),
    ],
)
def test_syntax_errors_in_the_users_terms(
    text: str, field: str, where: tuple[int, int], message: str
) -> None:
    [item] = errors_of(text).errors
    assert (item.line, item.column, item.field) == (*where, field)
    assert item.message == f"invalid YAML: {message}"
    assert "<block" not in item.message and "token" not in item.message


def test_duplicate_keys_are_found_with_the_other_problems() -> None:
    text = yaml("""
        steps:
          - name: a
            commands: [x]
            image: alpine
            image: debian
          - name: b
            comands: [y]
    """)
    fields = [item.field for item in errors_of(text).errors]
    assert fields == ["steps[0].image", "steps[1].commands", "steps[1].comands"]


def test_a_syntax_error_names_the_setting_it_broke_in() -> None:
    error = errors_of("steps:\n  - name: a\n     commands: [y]\n", "indent.yml")
    assert str(error).startswith("indent.yml:3:6: steps[0]: invalid YAML: this line is indented")


def test_a_problem_with_no_field_never_shows_an_empty_one() -> None:
    error = errors_of("steps: []\n---\nsteps: []\n", "two.yml")
    assert error.errors[0].field == ""
    assert str(error) == (
        "two.yml:2:1: invalid YAML: a pipeline file holds one YAML document; remove the '---' "
        "separator"
    )


# -- another CI system's file ---------------------------------------------------------------

GITHUB = """\
name: CI
on: [push, pull_request]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: pytest
"""
GITLAB = """\
stages: [test, build]
test:
  stage: test
  script:
    - pytest
"""
GITLAB_NO_STAGES = """\
test:
  image: python:3.12
  script: [pytest]
"""
CIRCLECI = """\
version: 2.1
jobs:
  test:
    docker: [{image: cimg/python:3.12}]
    steps: [checkout, {run: pytest}]
workflows:
  main: {jobs: [test]}
"""
DRONE = """\
kind: pipeline
type: docker
name: default
steps:
  - name: test
    image: python:3.12
    commands: [pytest]
"""
WOODPECKER = """\
steps:
  test:
    image: python:3.12
    commands: [pytest]
"""
BITBUCKET = """\
pipelines:
  default:
    - step: {script: [pytest]}
"""


@pytest.mark.parametrize(
    ("text", "name", "where"),
    [
        (GITHUB, "a GitHub Actions workflow", (3, 1)),
        (GITLAB, "a GitLab CI file", (1, 1)),
        (GITLAB_NO_STAGES, "a GitLab CI file", (1, 1)),
        (CIRCLECI, "a CircleCI config", (1, 1)),
        (DRONE, "a Drone pipeline", (1, 1)),
        (WOODPECKER, "a Woodpecker pipeline", (1, 1)),
        (BITBUCKET, "a Bitbucket Pipelines file", (1, 1)),
    ],
)
def test_another_ci_systems_file_gets_a_hint_first(
    text: str, name: str, where: tuple[int, int]
) -> None:
    hint, *rest = errors_of(text, "ci.yml").errors
    assert (hint.line, hint.column, hint.field) == (*where, "")
    assert hint.message.startswith(f"this looks like {name}, which Solvyd does not read")
    assert hint.message.endswith("see docs/pipelines.md")
    assert rest  # the problems themselves are still listed
    assert not any("this looks like" in item.message for item in rest)


def test_githubs_on_key_is_named_as_written() -> None:
    fields = {item.field: item for item in errors_of(GITHUB).errors}
    assert (fields["on"].line, fields["on"].message) == (2, "unknown field")


def _yaml_blocks(markdown: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", markdown, flags=re.DOTALL)


def _solvyd_pipelines() -> list[tuple[str, str]]:
    found = [
        (str(path.relative_to(ROOT)), path.read_text()) for path in ROOT.glob("examples/*.yml")
    ]
    found += [(path.name, path.read_text()) for path in ROOT.glob(".solvyd.yml")]
    for page in [*sorted(ROOT.glob("docs/**/*.md")), ROOT / "README.md"]:
        for index, block in enumerate(_yaml_blocks(page.read_text())):
            found.append((f"{page.relative_to(ROOT)} block {index}", block))
    return found


@pytest.mark.parametrize(("where", "text"), _solvyd_pipelines())
def test_no_solvyd_pipeline_in_the_examples_or_docs_is_taken_for_another_format(
    where: str, text: str
) -> None:
    try:
        data = pyyaml.safe_load(text)
    except pyyaml.YAMLError:
        return  # a fragment of a file, not a pipeline
    if isinstance(data, dict):
        assert foreign_format(data) is None, where


def test_a_solvyd_file_with_a_mistake_gets_no_hint() -> None:
    # `script` as a matrix axis looks like a GitLab job to a careless test.
    text = "matrix:\n  script: [a, b]\nsteps:\n  - name: a\n    comands: [x]\n"
    assert not any("this looks like" in item.message for item in errors_of(text).errors)


# -- every problem in one pass --------------------------------------------------------------


def test_every_kind_of_problem_is_reported_together() -> None:
    text = yaml("""
        steps:
          - name: lint
            commands: ruff check
            depends_on: [tset]
            colour: red
          - name: test
            commands: pytest
            timeout: soon
          - name: test
            commands: [make]
          - name: package
            commands: [make wheel]
            depends_on: publish
          - name: publish
            commands: [twine upload]
            depends_on: [package]
    """)
    described = str(errors_of(text)).splitlines()
    assert described == [
        '.solvyd.yml:4:5: steps[0].depends_on: unknown step "tset" (did you mean "test"?)',
        ".solvyd.yml:5:5: steps[0].colour: unknown field",
        ".solvyd.yml:8:14: steps[1].timeout: expected seconds or a duration like '90s', "
        "'10m' or '1h', got 'soon'",
        ".solvyd.yml:9:11: steps[2].name: step name 'test' is already used by steps[1]",
        ".solvyd.yml:13:5: steps: dependency cycle: package -> publish -> package",
    ]


def test_a_valid_pipeline_still_refuses_a_repeated_step_name() -> None:
    text = "steps:\n  - {name: a, commands: x}\n  - {name: a, commands: y}\n"
    assert str(errors_of(text)) == (
        ".solvyd.yml:3:12: steps[1].name: step name 'a' is already used by steps[0]"
    )


# -- numbers and booleans where text was meant ------------------------------------------------


def test_an_unquoted_version_is_kept_as_read_and_warned_about() -> None:
    text = yaml("""
        env:
          PY: 3.10
          MODE: 0755
          BIG: 1_000
          COUNTRY: no
          DEBUG: 1
          FAST: true
          QUOTED: "3.10"
        steps:
          - name: test
            commands: [echo $PY]
            timeout: 1.50
            matrix:
              PY: [3.10, 3.12]
              include: [{PY: 3.20}]
    """)
    checked = check_pipeline(text)
    assert checked.config.env["PY"] == "3.1"  # kept as YAML read it, as before
    assert checked.config.steps[0].matrix is not None
    assert checked.config.steps[0].matrix.axes["PY"] == ["3.1", "3.12"]
    described = [item.describe(".solvyd.yml", "warning") for item in checked.warnings]
    assert described == [
        ".solvyd.yml:2:7: warning: env.PY: YAML reads 3.10 as the number 3.1; quote it to keep "
        'it as written: "3.10"',
        ".solvyd.yml:3:9: warning: env.MODE: YAML reads 0755 as the number 493; quote it to "
        'keep it as written: "0755"',
        ".solvyd.yml:4:8: warning: env.BIG: YAML reads 1_000 as the number 1000; quote it to "
        'keep it as written: "1_000"',
        ".solvyd.yml:5:12: warning: env.COUNTRY: YAML reads no as the boolean false; quote it "
        'to keep it as written: "no"',
        ".solvyd.yml:14:12: warning: steps[0].matrix.PY[0]: YAML reads 3.10 as the number 3.1; "
        'quote it to keep it as written: "3.10"',
        ".solvyd.yml:15:22: warning: steps[0].matrix.include[0].PY: YAML reads 3.20 as the "
        'number 3.2; quote it to keep it as written: "3.20"',
    ]


def test_the_warning_shows_the_line_and_a_caret() -> None:
    text = "matrix:\n  PY: [3.10, 3.12]\nsteps:\n  - {name: t, commands: [echo $PY]}\n"
    assert report(text) == (
        ".solvyd.yml:2:8: warning: matrix.PY[0]: YAML reads 3.10 as the number 3.1; quote it "
        'to keep it as written: "3.10"\n'
        "      PY: [3.10, 3.12]\n"
        "           ^"
    )


def test_warnings_come_with_the_errors_too() -> None:
    text = "image: 3.10\nsteps:\n  - {name: t, commands: [x]}\n"
    error = errors_of(text)
    assert [item.field for item in error.errors] == ["image"]
    assert [item.field for item in error.warnings] == ["image"]
    assert 'quote it to keep it as written: "3.10"' in error.warnings[0].message


def test_parse_pipeline_is_unchanged_by_warnings() -> None:
    config = parse_pipeline("env: {PY: 3.10}\nsteps: [{name: t, commands: [x]}]\n")
    assert config.env == {"PY": "3.1"}


def test_a_number_too_long_to_write_out_is_an_error_not_a_crash() -> None:
    # Python refuses to write an integer of more than 4,300 digits as text.
    text = "env:\n  A: 0x" + "f" * 5000 + "\nsteps: [{name: a, commands: [x]}]\n"
    error = errors_of(text)
    assert [item.field for item in error.errors] == ["env"]
    assert error.warnings == []


def test_thousands_of_steps_are_one_problem_not_one_per_dependency() -> None:
    """A hostile file: every step of thousands depends on unknown names. The graph is not
    checked step by step (each unknown name would cost a "did you mean" pass over all names);
    the file gets one problem about its size, beside the others."""
    steps = "".join(
        f"  - name: s{i}\n    commands: [x]\n    depends_on: [nope{i}, other{i}]\n"
        for i in range(5000)
    )
    errors = errors_of("steps:\n" + steps + "  - name: s0\n    colour: red\n").errors
    graph = [e for e in errors if "depends" in e.message or "steps;" in e.message]
    assert [e.message for e in graph] == ["5001 steps; at most 256 are allowed"]
    assert any("colour" in e.field for e in errors)
