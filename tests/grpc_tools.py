"""Test helpers for the gRPC API: a real ``voxserve serve --grpc-port`` process, a client,
and the error details a refused call carries."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from tests.conftest import free_port, wait_ready
from voxserve.rpc.v1 import speech_pb2 as pb
from voxserve.rpc.v1 import speech_pb2_grpc


@dataclass
class GrpcServer:
    url: str
    target: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def channel(self) -> grpc.Channel:
        return grpc.insecure_channel(self.target)

    def stub(self) -> speech_pb2_grpc.SpeechStub:
        return speech_pb2_grpc.SpeechStub(self.channel())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def start_server(tmp_path: Path, *, flag: bool = True, **env: str) -> GrpcServer:
    """``voxserve serve`` with gRPC (``--grpc-port``, or ``VOXSERVE_GRPC_PORT`` when
    ``flag`` is False), the fake engine unless ``env`` says otherwise; ready on both."""
    port, grpc_port = free_port(), free_port()
    log_path = tmp_path / "server.log"
    environment = {
        **os.environ, "VOXSERVE_DATA_DIR": str(tmp_path / "data"), "VOXSERVE_ENGINES": "fake",
        "VOXSERVE_DEFAULT_MODEL": "fake", "VOXSERVE_LOG_FORMAT": "json", **env,
    }
    command = [sys.executable, "-m", "voxserve", "serve", "--port", str(port)]
    if flag:
        command += ["--grpc-port", str(grpc_port)]
    else:
        environment["VOXSERVE_GRPC_PORT"] = str(grpc_port)
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=environment, stdout=log,
                                   stderr=subprocess.STDOUT)
    server = GrpcServer(f"http://127.0.0.1:{port}", f"127.0.0.1:{grpc_port}", process,
                        log_path)
    try:
        wait_ready(server.url, process, timeout_s=60)
        wait_serving(server.channel(), timeout_s=30)
    except Exception:
        print(log_path.read_text(), file=sys.stderr)
        server.stop()
        raise
    return server


def health_status(channel: grpc.Channel, service: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    status: int = response.status
    return status


def wait_serving(channel: grpc.Channel, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if health_status(channel) == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.RpcError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("gRPC health never became SERVING")
        time.sleep(0.1)


def request(text: str, **fields: object) -> pb.SynthesizeRequest:
    return pb.SynthesizeRequest(text=text, **fields)  # type: ignore[arg-type]


def error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo:
    """The ErrorInfo of a refused call's ``grpc-status-details-bin``."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, "no grpc-status-details-bin"
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    raise AssertionError("no ErrorInfo in the status details")


def retry_delay_s(error: grpc.RpcError) -> float | None:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return float(info.retry_delay.seconds + info.retry_delay.nanos / 1e9)
    return None


def trailing(error: grpc.RpcError, key: str) -> str | None:
    for name, value in error.trailing_metadata() or ():  # type: ignore[attr-defined]
        if name == key:
            return str(value)
    return None
