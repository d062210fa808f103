"""Webhook targets: every internal address form refused, the allow-list, the check repeated
before each call with the connection pinned to the checked address (DNS rebinding), and
Standard Webhooks signatures checked by a real local receiver."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from standardwebhooks import Webhook

from voxserve.errors import UnsafeUrl
from voxserve.jobs.work.webhook import WebhookNotifier
from voxserve.security.outbound import OutboundPolicy, is_public, resolve_target

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()


def resolver(*addresses: str) -> Any:
    """A getaddrinfo that answers ``addresses`` whatever the name."""

    def resolve(host: str, port: int, **_: object) -> list[Any]:
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port)) for a in addresses]

    return resolve


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.1.2.3", "10.1.1.1", "172.16.0.1", "192.168.0.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "224.0.0.251", "239.1.1.1", "240.0.0.1", "255.255.255.255",
    "192.0.2.1", "198.18.0.1", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "2002:7f00:1::1",
    "64:ff9b::a9fe:a9fe", "2001::1", "2001:db8::1",
])
def test_internal_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111",
                                     "::ffff:8.8.8.8"])
def test_public_addresses_are(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("url", [
    "http://0x7f000001/", "http://2130706433/", "http://0177.0.0.1/", "http://127.1/",
    "http://localhost/", "http://[::ffff:7f00:1]/", "http://0/",
])
def test_numeric_forms_resolve_to_what_they_are(url: str) -> None:
    """The real resolver reads hex, decimal, octal and short forms; all are loopback."""
    with pytest.raises(UnsafeUrl, match="internal address"):
        resolve_target(url, OutboundPolicy())


def test_a_name_with_one_internal_address_is_refused() -> None:
    with pytest.raises(UnsafeUrl, match=r"10\.0\.0\.7"):
        resolve_target("https://hooks.example.com/x", OutboundPolicy(),
                       resolver=resolver("93.184.216.34", "10.0.0.7"))


def test_allow_list_by_name_and_by_network() -> None:
    policy = OutboundPolicy.from_entries(["hooks.internal", "10.1.2.0/24", "[fd00::5]"])
    assert resolve_target("http://HOOKS.internal./x", policy,
                          resolver=resolver("10.9.9.9")).address == ipaddress.ip_address(
                              "10.9.9.9")
    assert resolve_target("http://other/x", policy, resolver=resolver("10.1.2.3")).port == 80
    resolve_target("http://v6/x", policy, resolver=resolver("fd00::5"))
    with pytest.raises(UnsafeUrl):
        resolve_target("http://other/x", policy, resolver=resolver("10.1.3.3"))


def test_target_pins_the_address_and_keeps_the_name() -> None:
    target = resolve_target("https://hooks.example.com:8443/a/b?c=1", OutboundPolicy(),
                            resolver=resolver("2606:4700::1111"))
    assert target.pinned_url == "https://[2606:4700::1111]:8443/a/b?c=1"
    assert target.host_header == "hooks.example.com:8443"
    plain = resolve_target("http://hooks.example.com/", OutboundPolicy(),
                           resolver=resolver("93.184.216.34"))
    assert plain.pinned_url == "http://93.184.216.34:80/" and plain.host_header == (
        "hooks.example.com")


@pytest.mark.parametrize("url", ["ftp://example.com/", "http:///path", "file:///etc/passwd",
                                 "http://[::1/", "javascript:alert(1)"])
def test_malformed_urls(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        resolve_target(url, OutboundPolicy(), resolver=resolver("93.184.216.34"))


def test_a_name_that_does_not_resolve() -> None:
    def fail(*_: object, **__: object) -> list[Any]:
        raise socket.gaierror("no such host")

    with pytest.raises(UnsafeUrl, match="does not resolve"):
        resolve_target("http://nowhere.invalid/", OutboundPolicy(), resolver=fail)


# --- the notifier, against a real local receiver ---------------------------------------


@pytest.fixture
def receiver() -> Iterator[tuple[int, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], received
    server.shutdown()


def _notifier(monkeypatch: pytest.MonkeyPatch, answers: list[list[str]],
              **kwargs: Any) -> WebhookNotifier:
    """A notifier whose DNS answers ``answers`` in turn (one list per lookup)."""
    import voxserve.security.outbound as outbound

    lookups = iter(answers)

    def fake(host: str, port: int, **_: object) -> list[Any]:
        return resolver(*next(lookups))(host, port)

    monkeypatch.setattr(outbound.socket, "getaddrinfo", fake)
    return WebhookNotifier(base_delay_ms=1, max_attempts=2, **kwargs)


def test_signed_webhook_reaches_an_allowed_receiver_by_its_checked_address(
    monkeypatch: pytest.MonkeyPatch, receiver: tuple[int, list[tuple[dict[str, str], bytes]]]
) -> None:
    """The name "hooks.test" resolves (in this test) to the allowed 127.0.0.1: the request
    goes to that address, with Host: hooks.test:PORT, and its signature verifies."""
    port, received = receiver
    notifier = _notifier(monkeypatch, [["127.0.0.1"]], secret=SECRET,
                         policy=OutboundPolicy.from_entries(["127.0.0.1"]))
    payload = {"project_id": "p1", "state": "completed", "name": "Ünïcode"}
    assert asyncio.run(notifier.send(f"http://hooks.test:{port}/hook", payload))
    headers, body = received[0]
    assert headers["host"] == f"hooks.test:{port}"
    assert json.loads(body) == payload
    assert Webhook(SECRET).verify(body, headers) == payload
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    assert headers["webhook-signature"] == "v1," + base64.b64encode(
        hmac.new(key, signed, hashlib.sha256).digest()).decode()


def test_rebinding_between_check_and_call_is_refused(
    monkeypatch: pytest.MonkeyPatch, receiver: tuple[int, list[tuple[dict[str, str], bytes]]]
) -> None:
    """Public at submission, loopback when the webhook is sent: nothing is sent."""
    port, received = receiver
    url = f"http://rebind.test:{port}/hook"
    notifier = _notifier(monkeypatch, [["93.184.216.34"], ["127.0.0.1"]])
    resolve_target(url, notifier.policy)  # the submission check passes
    assert not asyncio.run(notifier.send(url, {"project_id": "p2"}))
    assert received == []


def test_retries_keep_the_message_id_and_refresh_the_timestamp() -> None:
    notifier = WebhookNotifier(secret=SECRET)
    body = b'{"a":1}'
    first = notifier.headers("msg_1", body, datetime(2026, 1, 1, tzinfo=UTC))
    later = notifier.headers("msg_1", body, datetime(2026, 1, 1, 0, 1, tzinfo=UTC))
    assert first["webhook-id"] == later["webhook-id"] == "msg_1"
    assert int(later["webhook-timestamp"]) - int(first["webhook-timestamp"]) == 60
    assert first["webhook-signature"] != later["webhook-signature"]
    assert "webhook-signature" not in WebhookNotifier().headers("msg_1", body)
