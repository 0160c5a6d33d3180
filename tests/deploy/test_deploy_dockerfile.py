"""The image runs the commands the tests run: every command in deploy/ is a valid `werkplaatsen` invocation.

No container engine runs in CI, so the Dockerfile is checked by reading it: its stages, its user, its health check
and its ENTRYPOINT/CMD, and the `command:` of compose and the `args` of the Kubernetes manifests, are parsed by the
real command line (click's own parser, without running anything) and compared with what tests/e2e starts.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from services.cli import app
from shared.settings import SERVICES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        pending += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            logical.append(pending)
            pending = ""
    return [(item.split(None, 1)[0].upper(), item.split(None, 1)[1] if " " in item else "") for item in logical]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions(DEPLOY / "Dockerfile")
    last_from = max(i for i, (name, _) in enumerate(steps) if name == "FROM")
    return steps[last_from:]


def exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), arguments
    return value


def one(stage: list[tuple[str, str]], name: str) -> str:
    found = [args for n, args in stage if n == name]
    assert len(found) == 1, f"expected one {name}, found {found}"
    return found[0]


UsageError = typer.BadParameter.__mro__[1]  # typer's own click's UsageError (typer vendors click)


def parse(argv: list[str]) -> tuple[list[str], dict[str, Any]]:
    """The subcommand path and parameters the CLI makes of `argv`, as its parser makes them (nothing runs)."""
    command: Any = typer.main.get_command(app)
    parent = typer.Context(command, info_name="werkplaatsen")
    path: list[str] = []
    args = list(argv)
    while hasattr(command, "get_command"):  # a group; ours take no options of their own
        if not args:
            raise UsageError(f"{' '.join(path) or 'werkplaatsen'} needs a subcommand")
        name, *args = args
        sub = command.get_command(parent, name)
        if sub is None:
            raise UsageError(f"no command {name!r} in {argv}")
        path.append(name)
        command = sub
        parent = typer.Context(command, info_name=name, parent=parent)
    ctx = command.make_context(path[-1], args, parent=parent.parent)
    return path, ctx.params


def test_the_image_is_multi_stage_slim_and_runs_as_an_unprivileged_user() -> None:
    steps = instructions(DEPLOY / "Dockerfile")
    assert sum(1 for name, _ in steps if name == "FROM") >= 2
    assert re.search(r"python:3\.11-slim", one(steps, "ARG"))
    user = one(final_stage(), "USER").split(":")[0]
    assert user not in {"root", "0"}


def runtime_packages() -> set[str]:
    """What the final stage installs with apt-get."""
    runs = " ".join(args for name, args in final_stage() if name == "RUN")
    found: set[str] = set()
    for install in re.findall(r"apt-get install ([^&]+)", runs):
        found.update(word for word in install.split() if not word.startswith("-"))
    return found


def test_the_final_stage_builds_nothing_and_installs_runtime_libraries_only() -> None:
    runs = " ".join(args for name, args in final_stage() if name == "RUN")
    assert "pip " not in runs
    for package in runtime_packages():
        assert not package.endswith("-dev") and package not in {"gcc", "g++", "make", "build-essential", "git"}
    copies = [args for name, args in final_stage() if name == "COPY"]
    assert copies and all(args.startswith("--from=build ") for args in copies), "only the built environment is copied"


def test_the_image_has_the_libraries_the_reporting_pdf_needs() -> None:
    setup = (ROOT / "scripts" / "reporting-setup").read_text(encoding="utf-8")
    needed = set(re.search(r"for package in ([^;]+);", setup).group(1).split()) - {"poppler-utils"}  # test tools
    assert needed <= runtime_packages()


def test_entrypoint_is_the_console_script_of_the_package() -> None:
    assert exec_form(one(final_stage(), "ENTRYPOINT")) == ["werkplaatsen"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts["werkplaatsen"] == "services.cli:main"
    # The tests start services with `python -m services`, which is the same entry point.
    assert "from services.cli import main" in (ROOT / "services" / "__main__.py").read_text(encoding="utf-8")


def test_the_default_command_runs_a_service_on_the_port_the_health_check_asks() -> None:
    path, params = parse(exec_form(one(final_stage(), "CMD")))
    assert path == ["run"] and params["service"] in SERVICES
    health = " ".join(exec_form(one(final_stage(), "HEALTHCHECK").split("CMD", 1)[1].strip()))
    assert f"http://127.0.0.1:{params['port']}/health" in health
    assert f"EXPOSE {params['port']}" in {f"{n} {a}" for n, a in final_stage()}


def compose_commands() -> dict[str, list[str]]:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))["services"]
    return {name: spec["command"] for name, spec in services.items() if name in SERVICES}


def kubernetes_args() -> dict[str, list[str]]:
    found = {}
    for path in (DEPLOY / "k8s").glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc and doc.get("kind") == "Deployment":
                (container,) = doc["spec"]["template"]["spec"]["containers"]
                found[doc["metadata"]["name"]] = container["args"]
    return found


def kubernetes_service_args() -> dict[str, list[str]]:
    return {name: args for name, args in kubernetes_args().items() if name in SERVICES}


def release_job_args() -> list[list[str]]:
    (job,) = yaml.safe_load_all((DEPLOY / "k8s" / "jobs" / "db-upgrade.yaml").read_text(encoding="utf-8"))
    return [c["args"] for c in job["spec"]["template"]["spec"]["containers"]]


@pytest.mark.parametrize("where", ["compose", "kubernetes"])
def test_every_deployed_service_command_is_run_for_that_service(where: str) -> None:
    commands = compose_commands() if where == "compose" else kubernetes_service_args()
    assert set(commands) == set(SERVICES)
    for name, argv in commands.items():
        path, params = parse(argv)
        assert path == ["run"] and params["service"] == name
        assert params["port"] == 8000


def test_the_release_job_runs_the_migration_command() -> None:
    for argv in release_job_args():
        path, params = parse(argv)
        assert path == ["db", "upgrade"] and params["service"] in SERVICES


def test_the_end_to_end_tests_start_services_with_the_same_command(monkeypatch, tmp_path) -> None:
    from tests.support import ServiceProcess

    started: list[list[str]] = []

    class Recorder:
        def __init__(self, argv: list[str], **_: object) -> None:
            started.append(argv)

    monkeypatch.setattr(subprocess, "Popen", Recorder)
    ServiceProcess("notifications", {}, 8123, tmp_path / "log").start()
    (argv,) = started
    assert argv[1:3] == ["-m", "services"]
    tested_path, tested = parse(argv[3:])
    deployed_path, deployed = parse(compose_commands()["notifications"])
    assert tested_path == deployed_path == ["run"]
    assert tested["service"] == deployed["service"] == "notifications"
    assert set(tested) == set(deployed)  # the same options exist; only their values (port, host) differ


@pytest.mark.parametrize(
    "argv", [["run", "--help"], ["db", "upgrade", "--help"], ["dlq", "replay", "--help"], ["status", "--help"]]
)
def test_the_deployed_commands_exist(argv: list[str]) -> None:
    assert CliRunner().invoke(app, argv).exit_code == 0


def test_an_invalid_invocation_is_caught_by_the_parser() -> None:
    with pytest.raises(UsageError):
        parse(["run", "scheduling", "--prot", "8000"])
    with pytest.raises(UsageError):
        parse(["run", "scheduling", "--port", "eighty"])
