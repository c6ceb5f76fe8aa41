"""The web console (``/console``) driven in headless Chromium (Debian's ``chromium``)
by Playwright, against the real ``lambdad serve``: refusal without a sign-in and with
a wrong secret, sign-in, the functions list, a function's overview, invoke with a
saved test event, live logs, charts, cost, sign-out. Screenshots are saved under the
test's tmp dir and their paths printed."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.helpers import OTHER, PRIMARY, LambdadServer, handler_zip

CHROMIUM = "/usr/bin/chromium"
SOURCE = (
    "def handler(event, context):\n"
    "    print('console-test saw', event)\n"
    "    if event.get('fail'):\n"
    "        raise ValueError('asked to fail')\n"
    "    return {'echo': event}\n"
)

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
if shutil.which("chromium") is None and not Path(CHROMIUM).exists():
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        # Root on CI: Chromium's own sandbox needs an unprivileged user.
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


def shot(pg: Any, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def sign_in(pg: Any, server: LambdadServer, secret: str) -> None:
    pg.goto(f"{server.endpoint}/console/signin")
    pg.fill("#access_key_id", PRIMARY.access_key_id)
    pg.fill("#secret", secret)
    pg.click("button[type=submit]")


def test_console_refuses_without_a_sign_in(
    lambdad: LambdadServer, page: Any, tmp_path: Path
) -> None:
    response = page.goto(f"{lambdad.endpoint}/console/functions")
    assert page.url.endswith("/console/signin")
    assert response.status == 200
    sign_in(page, lambdad, "not-the-secret")
    assert page.locator(".alert").inner_text().startswith("The access key ID or the secret")
    assert page.context.cookies() == []
    shot(page, tmp_path, "refused")
    # Another account's key is not this one's secret either.
    sign_in(page, lambdad, OTHER.secret_access_key)
    assert page.locator(".alert").is_visible()
    page.goto(f"{lambdad.endpoint}/console/functions")
    assert page.url.endswith("/console/signin")


def test_console_lists_invokes_shows_logs_and_charts(
    lambdad: LambdadServer,
    new_function: Callable[..., dict[str, Any]],
    page: Any,
    tmp_path: Path,
) -> None:
    name = new_function(handler_zip(SOURCE))["FunctionName"]
    client = lambdad.client("lambda")
    client.invoke(FunctionName=name, Payload=b'{"warm": 1}')
    client.invoke(FunctionName=name, Payload=b'{"fail": true}')
    client.publish_version(FunctionName=name)
    client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    url = client.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    client.add_permission(
        FunctionName=name,
        StatementId="console-public-url",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )
    client.add_permission(
        FunctionName=name,
        StatementId="console-public-invoke",
        Action="lambda:InvokeFunction",
        Principal="*",
        InvokedViaFunctionUrl=True,
    )
    # Two functions sharing a custom log group: each one's last invocation is its own.
    group = {"LogFormat": "Text", "LogGroup": f"/console-test/{name}"}
    shared = [new_function(handler_zip(SOURCE), LoggingConfig=group)["FunctionName"]
              for _ in range(2)]  # fmt: skip
    for fn in shared:
        client.invoke(FunctionName=fn, Payload=b"{}")
    base = lambdad.endpoint

    sign_in(page, lambdad, PRIMARY.secret_access_key)
    page.wait_for_url(re.compile(r".*/console/functions$"))
    row = page.locator("tr", has=page.locator(f"a.fn:text-is('{name}')"))
    assert "python3.12" in row.inner_text()
    assert "50.0%" in row.inner_text()  # one error in two invocations
    for fn in shared:
        assert " UTC" in page.locator("tr", has=page.locator(f"a.fn:text-is('{fn}')")).inner_text()
    cookie = next(c for c in page.context.cookies() if c["name"] == "lambdad_console")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    shot(page, tmp_path, "functions")

    page.click(f"a.fn:text-is('{name}')")
    assert page.locator("h1").inner_text() == name
    assert "live" in page.locator("section:has(h2:text-is('Aliases'))").inner_text()
    assert url in page.locator("section:has(h2:text-is('Triggers'))").inner_text()
    policy = page.locator("section:has(h2:text-is('Resource-based policy'))").inner_text()
    assert "console-public-url" in policy
    shot(page, tmp_path, "overview")

    page.click("nav.tabs >> text=Test")
    page.fill("#payload", '{"from": "the console"}')
    page.fill("#event-name", "console-event")
    page.click("#save")
    page.wait_for_selector("#saved option[value='console-event']", state="attached")
    page.click("#invoke")
    page.wait_for_selector("#result:not([hidden])")
    assert page.locator("#outcome").inner_text() == "succeeded"
    assert '"from": "the console"' in page.locator("#response").inner_text()
    assert page.locator("#report").inner_text().startswith("REPORT RequestId:")
    assert "console-test saw" in page.locator("#log").inner_text()
    shot(page, tmp_path, "invoke")
    page.reload()  # the saved event is kept on the server
    page.select_option("#saved", "console-event")
    assert "the console" in page.locator("#payload").input_value()

    page.click("nav.tabs >> text=Logs")
    page.wait_for_selector("#log-rows tr")
    assert "console-test saw" in page.locator("#log-rows").inner_text()
    client.invoke(FunctionName=name, Payload=b'{"live": "tail"}')
    page.wait_for_selector("#log-rows pre:has-text(\"'live': 'tail'\")")  # polled in
    shot(page, tmp_path, "logs")

    page.click("nav.tabs >> text=Monitor")
    figures = page.locator("figure.chart-card")
    assert figures.count() == 7
    invocations = page.locator("figure[data-metric='Invocations'] .summary").inner_text()
    assert int(invocations.split()[-1]) >= 4
    assert page.locator("figure[data-metric='Errors'] .summary").inner_text() == "total 1"
    assert page.locator("figure[data-metric='Invocations'] polyline, "
                        "figure[data-metric='Invocations'] circle").count() >= 1  # fmt: skip
    shot(page, tmp_path, "monitor")

    page.click("header nav >> text=Cost")
    assert page.locator("#total").inner_text().startswith("$")
    assert name in page.locator("main").inner_text()
    shot(page, tmp_path, "cost")

    # Another region is another world: none of these functions there.
    page.select_option("#region", "eu-west-1")
    page.wait_for_url(re.compile(r".*/console/cost$"))
    page.click("header nav >> text=Functions")
    assert name not in page.locator("main").inner_text()
    assert "No functions in this region yet" in page.locator("main").inner_text()

    page.click("#signout")
    page.wait_for_url(re.compile(r".*/console/signin$"))
    page.goto(f"{base}/console/functions/{name}")
    assert page.url.endswith("/console/signin")
