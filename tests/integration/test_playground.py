"""The playground at `/`, in a real headless Chromium (Debian's, driven by Playwright) against the
real service: pick a language, type, run, read the streamed output, type into a running
program's stdin, stop a loop, keep and share a program, and ask for an API key when the server
wants one. Screenshots (light and dark) go to build/test-artifacts/playground/."""

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from harness import ServiceProcess, free_port, running, service_config
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from runakode.playground import HELLO_WORLD

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach the internet.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts" / "playground"
API_KEY = "playground-key-4f1c"
# A run's answer: a sandbox boots under gVisor, on a host busy with other tests.
RUN_TIMEOUT_MS = 60_000
LANGUAGES = ["python", "c", "javascript"]


def playground_config(**overrides: object) -> dict[str, object]:
    return service_config(
        port=free_port(),
        supportedLanguages=LANGUAGES,
        maxWorkers=2,
        jobTimeout="20s",
        apiTimeout="60s",
        **overrides,
    )


@pytest.fixture(scope="module")
def open_service(workdir: Path) -> Iterator[ServiceProcess]:
    with running("runakode", playground_config(), workdir) as service:
        service.wait_healthy()
        yield service


@pytest.fixture(scope="module")
def keyed_service(workdir: Path) -> Iterator[ServiceProcess]:
    with running("runakode", playground_config(auth={"tokens": [API_KEY]}), workdir) as service:
        service.wait_healthy()
        yield service


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1280, "height": 760})
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert errors == [], f"the page threw: {errors}"


def open_playground(page: Page, service: ServiceProcess, language: str = "python") -> None:
    page.goto(service.url + "/")
    picker = page.get_by_role("combobox", name="Language")
    expect(picker).to_be_enabled()
    picker.select_option(language)


def replace_code(page: Page, code: str) -> None:
    """Select all in the editor and put `code` there as a paste would (typing it key by key
    would meet the editor's auto-indent)."""
    editor = page.get_by_role("textbox", name="Code")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(code)


def output(page: Page) -> str:
    return page.get_by_role("region", name="Output").locator("pre").inner_text()


def wait_finished(page: Page, status: str) -> None:
    expect(page.get_by_role("status")).to_contain_text(f"status: {status}", timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Run")).to_be_enabled()


def test_the_page_and_its_assets_come_from_the_service_itself(
    open_service: ServiceProcess, page: Page
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    open_playground(page, open_service)
    assert requested, "the page loaded nothing"
    assert all(url.startswith(open_service.url) for url in requested), requested
    # The real editor, not the plain-text fallback used when the bundle is missing.
    expect(page.locator(".cm-editor")).to_be_visible()
    head = httpx.head(open_service.url + "/", timeout=10)
    assert head.status_code == 200
    assert "default-src 'self'" in head.headers["content-security-policy"]


def test_the_picker_lists_the_services_languages_and_opens_on_hello_world(
    open_service: ServiceProcess, page: Page
) -> None:
    page.goto(open_service.url + "/")
    picker = page.get_by_role("combobox", name="Language")
    expect(picker).to_be_enabled()
    listed = httpx.get(open_service.url + "/api/languages", timeout=10).json()
    values = picker.locator("option").evaluate_all("options => options.map(o => o.value)")
    assert values == [language["name"] for language in listed]
    labels = picker.locator("option").all_inner_texts()
    assert all(language["version"] in label for language, label in zip(listed, labels, strict=True))
    expect(page.get_by_role("textbox", name="Code")).to_have_text(
        HELLO_WORLD["python"].rstrip("\n")
    )
    # Another language: its own hello world replaces the untouched example.
    picker.select_option("c")
    expect(page.get_by_role("textbox", name="Code")).to_contain_text("#include <stdio.h>")


def test_typing_a_program_and_running_it_streams_stdout_and_stderr_apart(
    open_service: ServiceProcess, page: Page
) -> None:
    open_playground(page, open_service, "python")
    editor = page.get_by_role("textbox", name="Code")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    # Typed key by key, as a person would.
    editor.press_sequentially('import sys; print("to stdout"); sys.exit("to stderr")')
    page.get_by_role("textbox", name="Arguments").fill('one "two words"')
    page.get_by_role("button", name="Run").click()
    wait_finished(page, "runtime_error")
    region = page.get_by_role("region", name="Output")
    expect(region.locator(".stdout")).to_have_text("to stdout\n")
    expect(region.locator(".stderr")).to_have_text("to stderr\n")
    expect(page.get_by_role("status")).to_contain_text("exit code 1")
    page.screenshot(path=ARTIFACTS / "stdout-stderr.png")


def test_arguments_and_input_reach_the_program_and_ctrl_enter_runs(
    open_service: ServiceProcess, page: Page
) -> None:
    open_playground(page, open_service, "python")
    replace_code(page, "import sys\nprint(sys.argv[1:])\nprint(input().upper())\n")
    page.get_by_role("textbox", name="Arguments").fill("one \"two words\" 'x y'")
    page.get_by_role("textbox", name="Input").fill("shout\n")
    page.get_by_role("textbox", name="Code").press("Control+Enter")
    wait_finished(page, "ok")
    assert output(page) == "['one', 'two words', 'x y']\nSHOUT\n"


def test_a_compiled_language_shows_its_compiler_and_the_run(
    open_service: ServiceProcess, page: Page
) -> None:
    open_playground(page, open_service, "c")
    replace_code(page, "int main(void) { return undeclared; }\n")
    page.get_by_role("button", name="Run").click()
    wait_finished(page, "compile_error")
    expect(page.get_by_role("region", name="Output").locator(".compile")).to_contain_text(
        "undeclared"
    )
    replace_code(page, HELLO_WORLD["c"])
    page.get_by_role("button", name="Run").click()
    wait_finished(page, "ok")
    assert output(page) == "Hello, World!\n"


def test_typing_into_a_running_programs_stdin(open_service: ServiceProcess, page: Page) -> None:
    open_playground(page, open_service, "python")
    replace_code(
        page,
        # Its stdout is a pipe, not a terminal: block-buffered unless flushed.
        "name = input('name? ')\nprint('hello', name, flush=True)\n"
        "import sys\nprint('rest:', sys.stdin.read().split())\n",
    )
    page.get_by_role("button", name="Run").click()
    region = page.get_by_role("region", name="Output")
    expect(region).to_contain_text("name? ", timeout=RUN_TIMEOUT_MS)
    program_input = page.get_by_role("textbox", name="Send to program")
    program_input.fill("ada")
    program_input.press("Enter")
    expect(region).to_contain_text("hello ada", timeout=RUN_TIMEOUT_MS)
    program_input.fill("more lines")
    program_input.press("Enter")
    page.get_by_role("button", name="EOF").click()
    wait_finished(page, "ok")
    assert output(page) == "name? ada\nhello ada\nmore lines\nrest: ['more', 'lines']\n"


def test_stop_ends_a_program_that_would_loop_forever(
    open_service: ServiceProcess, page: Page
) -> None:
    open_playground(page, open_service, "python")
    replace_code(
        page,
        "import time\nn = 0\nwhile True:\n    n += 1\n    print('tick', n, flush=True)\n"
        "    time.sleep(0.1)\n",
    )
    page.get_by_role("button", name="Run").click()
    region = page.get_by_role("region", name="Output")
    expect(region).to_contain_text("tick 3", timeout=RUN_TIMEOUT_MS)
    page.get_by_role("button", name="Stop").click()
    # Well before the 20 s job deadline: the program was killed, not timed out.
    expect(page.get_by_role("button", name="Run")).to_be_enabled(timeout=5_000)
    status = page.get_by_role("status").inner_text()
    assert "status: ok" not in status and "timeout" not in status, status
    ticks = output(page)
    page.wait_for_timeout(500)
    assert output(page) == ticks, "output went on after Stop"


def test_the_last_program_survives_a_reload_and_a_link_carries_it(
    open_service: ServiceProcess, page: Page, browser: Browser
) -> None:
    open_playground(page, open_service, "javascript")
    program = "console.log([1, 2, 3].map((n) => n * 2).join(' '))\n"
    replace_code(page, program)
    page.get_by_role("textbox", name="Input").fill("kept input")
    page.reload()
    expect(page.get_by_role("combobox", name="Language")).to_have_value("javascript")
    expect(page.get_by_role("textbox", name="Code")).to_have_text(program.rstrip("\n"))
    expect(page.get_by_role("textbox", name="Input")).to_have_value("kept input")

    page.get_by_role("button", name="Share").click()
    link = page.url
    assert re.search(r"#program=[A-Za-z0-9_-]+$", link), link
    # Another browser profile (nothing kept in it) opens the link: the program comes with it.
    stranger = browser.new_context()
    try:
        shared = stranger.new_page()
        shared.goto(link)
        expect(shared.get_by_role("combobox", name="Language")).to_have_value("javascript")
        expect(shared.get_by_role("textbox", name="Code")).to_have_text(program.rstrip("\n"))
        shared.get_by_role("button", name="Run").click()
        wait_finished(shared, "ok")
        assert output(shared) == "2 4 6\n"
    finally:
        stranger.close()


def test_with_api_keys_on_the_page_asks_for_one_and_keeps_it(
    keyed_service: ServiceProcess, page: Page
) -> None:
    page.goto(keyed_service.url + "/")
    key_field = page.get_by_label("API key", exact=True)
    expect(key_field).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("asks for an API key")
    key_field.fill("wrong")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("refused")
    key_field.fill(API_KEY)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("combobox", name="Language")).to_be_enabled()
    page.get_by_role("button", name="Run").click()
    wait_finished(page, "ok")
    assert output(page) == "Hello, World!\n"
    # Kept in the browser: a reload needs no key again.
    page.reload()
    expect(page.get_by_role("combobox", name="Language")).to_be_enabled()
    expect(key_field).to_be_hidden()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_light_and_dark_themes_follow_the_system(
    open_service: ServiceProcess, browser: Browser, scheme: str
) -> None:
    context = browser.new_context(
        viewport={"width": 1280, "height": 720},
        color_scheme="dark" if scheme == "dark" else "light",
    )
    try:
        page = context.new_page()
        open_playground(page, open_service, "python")
        replace_code(
            page,
            "# Fibonacci numbers\ndef fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n"
            "        a, b = b, a + b\n    return a\n\nprint([fib(n) for n in range(12)])\n",
        )
        page.get_by_role("button", name="Run").click()
        wait_finished(page, "ok")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        dark = background_is_dark(background)
        assert dark == (scheme == "dark"), background
        page.screenshot(path=ARTIFACTS / f"playground-{scheme}.png")
    finally:
        context.close()


def background_is_dark(css_color: str) -> bool:
    red, green, blue = (int(part) for part in re.findall(r"\d+", css_color)[:3])
    return (red + green + blue) / 3 < 128


@pytest.fixture(scope="module", autouse=True)
def artifacts_dir() -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
