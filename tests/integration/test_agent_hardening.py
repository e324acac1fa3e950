"""The agent as an attacker meets it (issues 14.7, 14.10, 14.15): a slowloris flood
under the usual fd limit, DNS rebinding, token guessing. Real agent processes."""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys
import time

import aiohttp

from console.agent.server import AUTH_FAILURES, IDLE_TIMEOUT
from tests.integration.agents import start_agent

FLOOD = 1100


def _agent_under_fd_limit(*args: str) -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen(
        ["prlimit", "--nofile=1024:1024", sys.executable, "-m", "console.cli", "agent",
         "--listen", "127.0.0.1:0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    assert line, process.stderr.read().decode() if process.stderr else "no output"
    return process, line.split()[1]


def _stop(process: subprocess.Popen[bytes]) -> bytes:
    process.terminate()
    try:
        _, err = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err


async def test_a_slowloris_flood_under_1024_fds_does_not_stop_the_agent() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4096)), hard))
    process, url = _agent_under_fd_limit("--sim", "node01")
    host, port = url.removeprefix("http://").split(":")
    writers: list[asyncio.StreamWriter] = []
    readers: list[asyncio.StreamReader] = []
    try:
        for _ in range(FLOOD):  # each sends part of a request head, then trickles nothing
            try:
                reader, writer = await asyncio.open_connection(host, int(port))
            except OSError:
                continue
            writer.write(b"GET /v1/snapshot HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: ")
            writers.append(writer)
            readers.append(reader)
        started = time.monotonic()
        async with aiohttp.ClientSession() as session:
            for path in ("/healthz", "/v1/snapshot"):
                async with session.get(url + path, timeout=aiohttp.ClientTimeout(10)) as answer:
                    assert answer.status == 200, path
        answered = time.monotonic() - started
        print(f"healthz and snapshot answered in {answered:.2f}s under {FLOOD} slow connections")
        # The newest trickler (never evicted) is dropped by the head timeout.
        assert await asyncio.wait_for(readers[-1].read(), IDLE_TIMEOUT + 10) == b""
    finally:
        for writer in writers:
            writer.close()
        err = _stop(process)
    assert process.returncode == 0
    assert len(err) < 5000, err[-2000:]  # one line per kind of refusal, not a traceback each
    assert b"Traceback" not in err


async def test_an_agent_on_loopback_answers_only_loopback_host_names() -> None:
    process, url = start_agent("--listen", "127.0.0.1:0", "--sim", "node01")
    port = url.rsplit(":", 1)[1]
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/v1/snapshot") as fine:
                assert fine.status == 200
                assert fine.headers["Server"] == "watchfloor-agent"  # no versions
            for host in (f"evil.example:{port}", "rebind.attacker.test", ""):
                async with session.get(f"{url}/v1/snapshot", headers={"Host": host}) as bad:
                    assert bad.status == 421, host
            async with session.get(f"{url}/healthz", headers={"Host": f"localhost:{port}"}) as ok:
                assert ok.status == 200
    finally:
        _stop(process)


async def test_failed_tokens_are_throttled_and_401_names_the_scheme(tmp_path) -> None:  # type: ignore[no-untyped-def]
    token = tmp_path / "token"
    token.write_text("a-long-enough-random-token-0123456789\n")
    process, url = start_agent("--listen", "127.0.0.1:0", "--sim", "node01",
                               "--token-file", str(token))  # fmt: skip
    try:
        async with aiohttp.ClientSession() as session:
            wrong = {"Authorization": "Bearer guess"}
            for _ in range(AUTH_FAILURES):
                async with session.get(f"{url}/v1/snapshot", headers=wrong) as answer:
                    assert answer.status == 401
                    assert answer.headers["WWW-Authenticate"] == "Bearer"
            right = {"Authorization": f"Bearer {token.read_text().strip()}"}
            async with session.get(f"{url}/v1/snapshot", headers=right) as throttled:
                assert throttled.status == 429  # past the limit, not even compared
                assert throttled.headers["Retry-After"] == "60"
    finally:
        _stop(process)


def test_a_short_or_multi_line_token_is_warned_about(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from console.agent.run import read_token

    short = tmp_path / "short"
    short.write_text("abc\n")
    several = tmp_path / "several"
    several.write_text("first-line-of-a-long-token\nsecond-line-of-it\n")
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert read_token(str(short)) == "abc"
        read_token(str(several))
    assert "is 3 characters; use 16 or more" in err.getvalue()
    assert "has several lines" in err.getvalue()


async def test_client_allowed_sans_and_certificate_reload_on_sighup(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import signal
    import ssl

    import trustme

    ca = trustme.CA()
    cert, key, client_ca = tmp_path / "agent.pem", tmp_path / "agent.key", tmp_path / "ca.pem"
    first = ca.issue_cert("localhost", "127.0.0.1")
    first.cert_chain_pems[0].write_to_path(cert)
    first.private_key_pem.write_to_path(key)
    ca.cert_pem.write_to_path(client_ca)

    def client(name: str, trusted: trustme.CA) -> ssl.SSLContext:
        context = ssl.create_default_context()
        trusted.configure_trust(context)
        ca.issue_cert(name).configure_cert(context)
        return context

    process, url = start_agent("--listen", "127.0.0.1:0", "--sim", "node01",
                               "--tls-cert", str(cert), "--tls-key", str(key),
                               "--tls-client-ca", str(client_ca),
                               "--tls-allowed-san", "console@example")  # fmt: skip
    try:
        async with aiohttp.ClientSession() as session:
            allowed, other = client("console@example", ca), client("mallory@example", ca)
            async with session.get(f"{url}/healthz", ssl=allowed) as answer:
                assert answer.status == 200
            async with session.get(f"{url}/v1/snapshot", ssl=other) as refused:
                assert refused.status == 403  # signed by the CA, but not a name allowed
            renewed_ca = trustme.CA()  # the certificate is renewed (by another CA, to tell)
            renewed = renewed_ca.issue_cert("localhost", "127.0.0.1")
            renewed.cert_chain_pems[0].write_to_path(cert)
            renewed.private_key_pem.write_to_path(key)
            process.send_signal(signal.SIGHUP)
            assert process.stderr is not None
            assert b"refused a client certificate" in process.stderr.readline()  # logged once
            assert b"TLS certificate reloaded" in process.stderr.readline()
        renewed_client = client("console@example", renewed_ca)
        async with (
            aiohttp.ClientSession() as session,  # new connections, new certificate
            session.get(f"{url}/healthz", ssl=renewed_client) as answer,
        ):
            assert answer.status == 200
    finally:
        _stop(process)
