"""No API key is ever written: not to the cache, exports, reports or terminal output."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmdrift.cli import main
from pytest_llmdrift.testing import Fault, ModelServer
from tests.conftest import ANTHROPIC_TEST_KEY, TEST_KEY


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]


RELAY_SECRET = "relay-SECRET-31337"
MCP_SECRET = "mcp-SECRET-27182"


def test_keys_never_reach_disk_or_output(
    pytester: pytest.Pytester, server: ModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An error whose message echoes the key back (as some providers do) must not leak
    # it, nor a header value or a credential nested in a list of the request.
    server.inject(
        Fault.status(
            401,
            f"Incorrect API key provided: {TEST_KEY}; header Bearer {RELAY_SECRET}; "
            f"mcp token {MCP_SECRET}",
        ),
        times=1,
    )
    # From the environment: the test's own source (shown in tracebacks) holds no secret.
    monkeypatch.setenv("RELAY_AUTH", f"Bearer {RELAY_SECRET}")
    monkeypatch.setenv("MCP_TOKEN", MCP_SECRET)
    pytester.makepyfile(
        """
        import os
        import pytest

        @pytest.mark.parametrize("n", range(3))
        def test_ask(llm, n):
            llm(
                f"q{n}",
                temperature=0,
                extra_headers={"X-Relay-Auth": os.environ["RELAY_AUTH"]},
                extra_body={"mcp_servers": [{"authorization_token": os.environ["MCP_TOKEN"]}]},
            )
        """
    )
    runs = [
        pytester.runpytest(
            "--llm-model=gpt-4o",
            "--llm-model=claude-3-opus",
            "-rA",
            "--junitxml=report.xml",
            "--llm-report=llm-report.json",
            "--llm-html=llm-report.html",
            "-n",
            "2",
        ),
        pytester.runpytest("--llm-model=gpt-4o", "--llm-model=claude-3-opus", "-v", "-l"),
    ]
    monkeypatch.chdir(pytester.path)
    assert main(
        [
            "compare",
            "llm-report.json",
            "llm-report.json",
            "--base-model=gpt-4o",
            "--current-model=claude-3-opus",
            "--html=c.html",
            "--markdown=c.md",
            "--json=c.json",
        ]
    ) in (0, 1)
    monkeypatch.chdir(pytester.path)
    assert main(["cache", "export", "-o", "export.jsonl"]) == 0
    scanned = 0
    for path in files_under(pytester.path):
        data = path.read_bytes()
        scanned += 1
        for key in (TEST_KEY, ANTHROPIC_TEST_KEY, RELAY_SECRET, MCP_SECRET):
            assert key.encode() not in data, f"{key} written to {path}"
    assert scanned > 5
    assert (pytester.path / "report.xml").exists()
    for result in runs:
        output = "\n".join(result.outlines + result.errlines)
        for key in (TEST_KEY, ANTHROPIC_TEST_KEY, RELAY_SECRET, MCP_SECRET):
            assert key not in output
    assert "<redacted>" in "\n".join(runs[0].outlines)  # the 401 echo was scrubbed
    assert "&lt;redacted&gt;" in (pytester.path / "report.xml").read_text()
    assert "<redacted>" in (pytester.path / "llm-report.json").read_text()
    # the server saw the key (so it really was sent) but recorded it redacted
    assert server.requests
    assert all(TEST_KEY not in repr(r) for r in server.requests)


def test_credentials_in_arguments_and_base_urls_are_never_written(
    pytester: pytest.Pytester, server: ModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret, password = "Bearer sk-helicone-SECRET4242", "PWSECRET9999"
    host = server.openai_base_url.split("//", 1)[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://bob:{password}@{host}")
    pytester.makepyfile(
        f"""
        def test_ask(llm, llm_snapshot):
            reply = llm("hi", extra_headers={{"Helicone-Auth": "{secret}"}},
                        extra_body={{"api_key": "k-SECRET-1",
                                    "mcp_servers": [{{"authorization_token": "MCP-SECRET-2"}}]}})
            assert reply == llm_snapshot
        """
    )
    pytester.runpytest("--llm-model=gpt-4o", "--snapshot-update").assert_outcomes(passed=1)
    result = pytester.runpytest(
        "--llm-model=gpt-4o", "--llm-cache=replay", "--llm-report=r.json", "--llm-html=r.html"
    )
    assert (pytester.path / "r.json").exists()
    assert (pytester.path / "r.html").exists()
    monkeypatch.chdir(pytester.path)
    assert main(["cache", "export", "-o", "export.jsonl"]) == 0
    leaked = ["SECRET4242", password, "k-SECRET-1", "MCP-SECRET-2"]
    for path in files_under(pytester.path):
        if path.suffix == ".py":
            continue  # the test itself holds them
        data = path.read_bytes()
        for text in leaked:
            assert text.encode() not in data, f"{text} written to {path}"
    assert "sha256:" in (pytester.path / "export.jsonl").read_text()
    assert not any(text in "\n".join(result.outlines) for text in leaked)


def test_a_missing_key_error_does_not_write_the_base_urls_credentials(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "PWSECRET7777"
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"https://bob:{password}@llm.internal.example")
    pytester.makepyfile("def test_ask(llm):\n    llm('hi')\n")
    result = pytester.runpytest(
        "--llm-model=claude-3-opus", "--llm-report=r.json", "--llm-html=r.html", "-rA"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ANTHROPIC_API_KEY is not set*https://llm.internal.example*"])
    assert password not in "\n".join(result.outlines + result.errlines)
    for path in files_under(pytester.path):
        if path.suffix != ".py":
            assert password.encode() not in path.read_bytes(), f"written to {path}"


def test_the_reports_failure_message_is_a_second_guard() -> None:
    """Errors from a third-party provider may not redact: the report's copy of the
    failure message is checked against the run's credentials too."""
    from types import SimpleNamespace

    from pytest_llmdrift.plugin import _failure_message
    from pytest_llmdrift.reply import env_secrets

    crash = SimpleNamespace(message="refused sk-env-SECRET-99 via https://u:pw-SECRET-88@h/v1")
    report = SimpleNamespace(longrepr=SimpleNamespace(reprcrash=crash), longreprtext="")
    secrets = env_secrets({"MY_API_KEY": "sk-env-SECRET-99", "X_BASE_URL": "https://u:pw@h"})
    message = _failure_message(report, secrets)  # type: ignore[arg-type]
    assert "SECRET" not in message
    assert message == "refused <redacted> via https://h/v1"
