"""The web console in real Chromium (Debian's, driven by Playwright) against a real suite: the
API serves it at /, a user registers, creates an app, watches it run with its replicas, follows
its logs and events live, scales it and deletes it; and the static serving gives nothing outside
the console's files."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
import uuid
import zipfile
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import app_body, make_user
from tests.harness.procs import REPO
from tests.harness.suite import wait_distinct_backends
from tests.integration.helpers import suite_containers

CHROMIUM = "/usr/bin/chromium"
AXE = REPO / "console/node_modules/axe-core/axe.min.js"


@contextlib.contextmanager
def logged_in(suite, email: str, problems: list[str], viewport: tuple[int, int] = (1280, 800)) -> Iterator:
    """A page of the console (1280x800 unless ``viewport`` says otherwise), logged in as
    ``email`` (the harness's password), which notes every uncaught error of the page in
    ``problems``."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{suite.api_url}/")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill("correct-horse-battery")
        page.get_by_role("button", name="Log in").click()
        yield page
        browser.close()


def serious_violations(page) -> list[dict]:
    """axe-core's serious and critical findings on the page as it is now (run through the
    browser's debugging protocol, which the page's CSP does not apply to)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    found = page.evaluate(
        "async () => (await axe.run()).violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))"
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]


def screenshot(page, name: str) -> None:
    """Keep a picture of the page when CRANE_SCREENSHOTS names a folder (docs/ has them)."""
    folder = os.environ.get("CRANE_SCREENSHOTS")
    if folder:
        page.screenshot(path=f"{folder}/console-{name}.png", full_page=True)


# Without Node.js there is no console to test (make up says so); with it, it must be built.
# Skipped (loudly, in make test's output too) where there is no Node.js; never on CI, where a
# missing console is a failure, not a pass.
pytestmark = pytest.mark.skipif(
    shutil.which("npm") is None and not os.environ.get("CI"), reason="no Node.js: the suite runs without its console"
)


@pytest.fixture(autouse=True)
def built_console():
    assert (REPO / "console/dist/index.html").is_file(), "the console is not built: make console"


def test_the_console_is_served_at_the_root_and_nothing_else_is(suite):
    root = httpx.get(f"{suite.api_url}/")
    assert root.status_code == 200 and '<div id="root">' in root.text
    assert "default-src 'self'" in root.headers["content-security-policy"]
    deep = httpx.get(f"{suite.api_url}/apps/some-1")  # the console's own route: its page
    assert deep.status_code == 200 and deep.text == root.text
    asset = re.search(r'src="(/assets/[^"]+\.js)"', root.text).group(1)
    served = httpx.get(f"{suite.api_url}{asset}")
    assert served.status_code == 200 and "immutable" in served.headers["cache-control"]
    for probe in ("/..%2f..%2f..%2fetc%2fpasswd", "/%2e%2e/%2e%2e/etc/passwd", "/assets/..%2f..%2fpackage.json"):
        answer = httpx.get(f"{suite.api_url}{probe}")
        assert "root:" not in answer.text and '"name": "crane-console"' not in answer.text, probe
    missing = httpx.get(f"{suite.api_url}/api/v1/no-such-route")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/json")


def test_a_user_deploys_watches_scales_and_deletes_an_app_in_the_browser(suite, admin, http_image):
    email = f"ada-{uuid.uuid4().hex[:6]}@example.com"
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(f"{suite.api_url}/")
        expect(page.get_by_role("button", name="Log in")).to_be_visible()
        assert serious_violations(page) == []
        screenshot(page, "login")

        page.get_by_role("button", name="Create an account").click()
        page.get_by_label("Full name").fill("Ada")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill("correct-horse-battery")
        page.get_by_role("button", name="Register").click()
        expect(page.get_by_role("heading", name="Apps")).to_be_visible()
        expect(page.get_by_text(f"{email} (user)")).to_be_visible()
        screenshot(page, "apps")
        assert serious_violations(page) == []

        # A refused field shows under that field.
        page.get_by_label("Name", exact=True).fill("Not A Name!")
        page.get_by_label("Image").fill(http_image)
        page.get_by_role("button", name="Create").click()
        expect(page.locator("#field-name-error")).to_contain_text("lowercase letters, digits and dashes")

        page.get_by_label("Name", exact=True).fill("browser")
        page.get_by_label("Replicas", exact=True).fill("2")
        page.get_by_role("button", name="Create").click()
        started = time.monotonic()
        page.get_by_role("link", name=re.compile(r"^browser-\d+$")).click()
        expect(page.get_by_role("row", name=re.compile(r"^web "))).to_be_visible()
        print(f"the app page showed its data {1000 * (time.monotonic() - started):.0f} ms after the click")
        app_id = page.url.rsplit("/", 1)[1]
        expect(page.locator("h1 .status")).to_have_text("running", timeout=90_000)
        expect(page.get_by_role("row", name=re.compile(r"^web 2 2"))).to_be_visible()
        expect(page.get_by_role("button", name="Start", exact=True)).to_be_disabled()  # it runs
        expect(page.get_by_role("button", name="Stop", exact=True)).to_be_enabled()
        assert serious_violations(page) == []

        # Logs live: a request made now shows in the logs pane; the timeline names who did what.
        wait_distinct_backends(suite.http_port, f"{app_id}.localhost", 1)
        expect(page.get_by_role("region", name="Logs")).to_contain_text(f"{app_id}-web-", timeout=30_000)
        expect(page.get_by_role("region", name="Events")).to_contain_text("app.deployed")
        expect(page.get_by_role("region", name="Events")).to_contain_text("deployer 2 replica(s) running")

        page.get_by_role("button", name="more replicas of web").click()
        expect(page.get_by_role("row", name=re.compile(r"^web 3 3"))).to_be_visible(timeout=60_000)
        expect(page.get_by_role("region", name="Events")).to_contain_text("ready replicas 2 → 3", timeout=30_000)
        expect(page.get_by_role("region", name="Decisions")).to_contain_text("No alert is firing")
        expect(page.get_by_role("region", name="Scan report")).to_contain_text(http_image, timeout=30_000)
        # The charts: Prometheus's numbers through the API (the browser never reaches Prometheus).
        metrics = page.get_by_role("region", name="Metrics")
        wait_distinct_backends(suite.http_port, f"{app_id}.localhost", 3)
        expect(metrics).to_contain_text(re.compile(r"Requests per second, per replica: \d"), timeout=45_000)
        expect(metrics).to_contain_text(re.compile(r"CPU, average replica: \d"), timeout=45_000)
        expect(page.get_by_role("region", name="Builds")).to_contain_text("Nothing built")
        screenshot(page, "app")
        logs = page.get_by_role("region", name="Logs")
        logs.get_by_label("Service").select_option("web")
        wait_distinct_backends(suite.http_port, f"{app_id}.localhost", 1)
        expect(logs.locator("pre")).to_contain_text(f"{app_id}-web-", timeout=30_000)
        replica = logs.get_by_label("Replica").locator("option").nth(1).inner_text()
        logs.get_by_label("Replica").select_option(replica)
        expect(logs.locator("pre")).to_contain_text(replica, timeout=30_000)
        shown = logs.locator("pre").inner_text().splitlines()
        assert shown and all(line.startswith(replica) for line in shown), shown  # (an empty pane is no pass)

        page.get_by_role("button", name="Clone").click()
        expect(page).not_to_have_url(re.compile(f"/apps/{app_id}$"))
        expect(page.locator("h1")).to_contain_text(re.compile(r"browser-\d+"))
        page.get_by_role("button", name="Delete").click()  # the clone
        expect(page.get_by_role("heading", name="Apps")).to_be_visible()
        page.get_by_role("link", name=app_id, exact=True).click()
        page.get_by_role("button", name="Delete").click()
        expect(page.get_by_role("heading", name="Apps")).to_be_visible()
        browser.close()
    # Chromium logs every 4xx answer as an error: the one refusal asked for above, and nothing
    # else. It also aborts requests when the machine's addresses change (Docker making an app's
    # network): the console follows its streams again; that is the machine, not the console.
    refused = [p for p in problems if "status of 422" in p]
    machine = [p for p in problems if "ERR_NETWORK_CHANGED" in p]
    assert len(refused) == 1 and [p for p in problems if p not in refused + machine] == [], problems


def test_an_admin_sees_users_and_a_policy_that_does_not_compile_is_refused_at_its_line(suite, admin):
    problems: list[str] = []
    with logged_in(suite, admin.email, problems) as page:
        page.get_by_role("link", name="Users").click()
        expect(page.get_by_role("row", name=re.compile(re.escape(admin.email)))).to_be_visible()
        assert serious_violations(page) == []
        # A quota set in place is the user's from then on.
        student = make_user(suite, "quota")
        page.reload()
        page.get_by_role("button", name=f"Edit quota of {student.email}").click()
        form = page.get_by_role("form", name=f"Quota of {student.email}")
        form.get_by_label("Replicas").fill("3")
        form.get_by_role("button", name="Save quota").click()
        expect(page.get_by_role("row", name=re.compile(re.escape(student.email)))).to_contain_text("3 replicas, 8 CPUs")
        screenshot(page, "users")
        assert student.get("/users/me").json()["quota"] == {"replicas": 3, "cpus": 8.0, "memory_mb": 8192}
        student.close()

        page.get_by_role("link", name="Policies").click()
        page.get_by_role("button", name="autoscale").click()
        source = page.get_by_label("Source of autoscale")
        expect(source).to_contain_text("package crane.autoscale")
        original = source.input_value()
        source.fill(original + "\nbroken := \n")
        page.get_by_role("button", name="Compile and save").click()
        broken_line = original.count("\n") + 2
        expect(page.locator("#policy-error")).to_contain_text(f"Line {broken_line}: autoscale line {broken_line}")
        expect(page.locator("#policy-error")).to_contain_text("Invalid assignment")
        expect(page.locator(".gutter .bad-line")).to_have_text(str(broken_line))
        screenshot(page, "policies")
        # A dry run of the policy as it stands in the editor: the fixed text, the sample input.
        source.fill(original)
        page.get_by_role("button", name="Evaluate").click()
        expect(page.get_by_label("Decision")).to_contain_text('"desired": 6')
        assert serious_violations(page) == []
        # An edit saved, then the shipped policy put back.
        source.fill(original + "\n# tuned in class\n")
        page.get_by_role("button", name="Compile and save").click()
        expect(page.get_by_role("status")).to_contain_text("Saved")
        assert admin.get("/policies/autoscale").json()["source"].endswith("# tuned in class\n")
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Restore the shipped policy").click()
        expect(source).to_have_value(original)
    assert admin.get("/policies/autoscale").json()["source"] == original  # nothing broken was kept
    assert problems == [], problems


def shopfront(root, http_image):
    """A project folder: a service built from a context with a .dockerignore, and a secret."""
    folder = root / "shopfront"
    (folder / "web").mkdir(parents=True)
    (folder / "compose.yaml").write_text(
        "services:\n  web:\n    build: ./web\n    ports: ['8080']\n    secrets: [pw]\n"
        "secrets:\n  pw:\n    file: ./pw.txt\n"
    )
    (folder / "web" / "Dockerfile").write_text(f"FROM {http_image}\nCOPY . /www/extra/\n")
    (folder / "web" / ".dockerignore").write_text("private.key\n")
    (folder / "web" / "page.html").write_text("hello\n")
    (folder / "web" / "private.key").write_text("never uploaded\n")
    (folder / "pw.txt").write_text("s3cret\n")
    return folder


def deploy_upload(page, field: str, upload, name: str) -> str:
    """Deploy ``upload`` (a folder or a .zip) with the upload form's ``field``; the app's id once
    its page says it runs."""
    page.set_input_files(field, str(upload))
    page.get_by_role("button", name="Deploy", exact=True).click()
    expect(page.locator("h1")).to_contain_text(re.compile(rf"{name}-\d+"), timeout=30_000)
    expect(page.locator("h1 .status")).to_have_text("running", timeout=120_000)
    return page.url.rsplit("/", 1)[1]


def assert_shopfront_runs(suite, docker_client, app_id: str) -> None:
    web = suite_containers(docker_client, suite.suite, app_id)[0]  # .dockerignore kept the key out
    assert web.exec_run(["/bin/busybox", "ls", "/www/extra"]).output.decode().split() == ["Dockerfile", "page.html"]
    assert web.exec_run(["/bin/busybox", "cat", "/run/secrets/pw"]).output == b"s3cret\n"


def test_a_project_folder_is_uploaded_built_and_run_from_the_browser(suite, admin, http_image, tmp_path, docker_client):
    user = make_user(suite, "folder")
    problems: list[str] = []
    with logged_in(suite, user.email, problems) as page:
        app_id = deploy_upload(page, "#field-folder", shopfront(tmp_path, http_image), "shopfront")
        expect(page.get_by_role("region", name="Builds")).to_contain_text("web succeeded")
    assert problems == [], problems
    app = user.get(f"/apps/{app_id}").json()
    assert app["spec"]["secrets"] and app["spec"]["services"][0]["build"]
    assert_shopfront_runs(suite, docker_client, app_id)
    user.delete(f"/apps/{app_id}")


def test_a_project_zip_is_uploaded_built_and_run_from_the_browser(suite, http_image, tmp_path, docker_client):
    """The same project as a repository download gives it: a .zip with one top folder."""
    user = make_user(suite, "zip")
    folder = shopfront(tmp_path, http_image)
    archive = tmp_path / "shopfront-main.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(folder.rglob("*")):
            zipped.write(path, f"shopfront-main/{path.relative_to(folder)}")
    problems: list[str] = []
    with logged_in(suite, user.email, problems) as page:
        app_id = deploy_upload(page, "#field-zip", archive, "shopfront-main")
    assert problems == [], problems
    assert_shopfront_runs(suite, docker_client, app_id)
    user.delete(f"/apps/{app_id}")


def test_the_lab_makes_the_cloud_scale_and_heal_and_the_teaching_view_shows_why(suite, http_image):
    """Start a load from the lab, see the alert, the decision with its arithmetic and the new
    replica in the alert's chain; kill a replica and see it healed in the kill's chain."""
    from tests.integration.test_autoscaling import autoscaled_body

    user = make_user(suite, "teacher")
    app = user.post("/apps?wait=true", json=autoscaled_body(http_image, "lesson")).json()
    assert app["status"] == "running", app
    app_id = app["id"]
    wait_distinct_backends(suite.http_port, f"{app_id}.localhost", 1)
    problems: list[str] = []
    with logged_in(suite, user.email, problems) as page:
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.get_by_role("link", name=app_id, exact=True).click()
        page.get_by_role("link", name=re.compile("Watch it think")).click()
        expect(page.get_by_role("heading", name=re.compile(f"Watch {app_id} think"))).to_be_visible()
        events = page.get_by_role("region", name="Events")
        # The deploy as one chain: accepted, admitted, scanned, running, watched.
        deploy = events.locator("details", has_text="request accepted: deploy the app")
        for step in (
            "policy admission policy: allowed",
            "deployer 1 replica(s) running",
            "monitor-config targets and rules",
        ):
            expect(deploy).to_contain_text(step)
        expect(page.get_by_test_id("replicas")).to_have_text("http 1/1")
        assert serious_violations(page) == []

        page.get_by_label("Requests per second").fill("20")
        page.get_by_label("For (seconds)").fill("60")
        page.get_by_role("button", name="Start load").click()
        expect(page.locator(".load-status")).to_contain_text("Sending")
        expect(page.locator(".node.lit")).not_to_have_count(0)
        alert = events.locator("details", has_text="alert CraneHighLoad fired on http")
        expect(alert).to_contain_text(
            re.compile(r"policy Scale up http: 1 → \d, because rps [\d.]+ per replica"), timeout=60_000
        )
        expect(alert).to_contain_text(re.compile(r"deployer ready replicas 1 → [23]"), timeout=60_000)
        expect(page.get_by_role("region", name="Decisions")).to_contain_text("ceil(")
        expect(page.get_by_test_id("replicas")).to_have_text(re.compile(r"http [23]/[23]"), timeout=30_000)
        screenshot(page, "watch")
        page.get_by_role("button", name="Stop load").click()
        expect(page.locator(".load-status")).to_contain_text("Stopped")
        expect(events.locator("details", has_text="lab: 20 requests/s for 60 s to /")).to_contain_text(
            "lab load stopped"
        )

        page.get_by_role("button", name="Kill replica 0 of http").click()
        expect(page.get_by_role("region", name="Lab").get_by_role("alert")).to_have_count(0)
        killed = events.locator("details", has_text="lab: kill replica 0 of http")
        expect(killed).to_contain_text(
            re.compile(r"deployer replica \S+ died \(exit 137\); replacing it"), timeout=30_000
        )
        expect(killed).to_contain_text(re.compile(r"deployer replica \S+-http-0 created"), timeout=60_000)
        assert serious_violations(page) == []
    user.delete(f"/apps/{app_id}")
    machine = [p for p in problems if "ERR_NETWORK_CHANGED" in p]
    assert [p for p in problems if p not in machine] == [], problems


FOCUSED = """() => {
  const e = document.activeElement;
  const name = e.getAttribute('aria-label') || (e.labels && e.labels[0] && e.labels[0].textContent) || e.textContent;
  return {name: (name || '').trim(), outline: getComputedStyle(e).outlineStyle};
}"""


def tab_to(page, name: str, limit: int = 80) -> None:
    """Press Tab until the element named ``name`` has the focus, which must be visible."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        seen.append(focused["name"][:40])
        if focused["name"] == name:
            assert focused["outline"] != "none", f"the focus on {name!r} is not visible"
            return
    raise AssertionError(f"Tab never reached {name!r}; it went through {seen}")


def test_the_console_works_from_the_keyboard_alone(suite, http_image):
    """Log in, open an app, its teaching view, and kill a replica: Tab, typing and Enter only."""
    user = make_user(suite, "keys")
    app_id = user.post("/apps?wait=true", json=app_body(http_image, "keys", replicas=2)).json()["id"]
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{suite.api_url}/")
        tab_to(page, "Email")
        page.keyboard.type(user.email)
        tab_to(page, "Password")
        page.keyboard.type("correct-horse-battery")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Apps")).to_be_visible()
        tab_to(page, app_id)
        page.keyboard.press("Enter")
        expect(page.locator("h1")).to_contain_text(app_id)
        tab_to(page, "Watch it think: the suite, the causal chains and the lab")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name=re.compile(f"Watch {app_id} think"))).to_be_visible()
        tab_to(page, "Kill replica 1 of http")
        page.keyboard.press("Enter")
        killed = page.get_by_role("region", name="Events").locator("details", has_text="lab: kill replica 1 of http")
        expect(killed).to_contain_text("died (exit 137)", timeout=30_000)
        browser.close()
    user.delete(f"/apps/{app_id}")
    assert problems == [], problems


# The innermost elements that reach past the screen's right edge (what makes a page too wide).
WIDER_THAN_THE_SCREEN = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
  .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > window.innerWidth + 1))
  .slice(0, 5).map(e => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}px`)"""


def test_the_console_fits_a_phone(suite, admin, http_image):
    """At 390 px wide (a phone), the apps list and an app's page are no wider than the screen."""
    user = make_user(suite, "phone")
    app_id = user.post("/apps?wait=true", json=app_body(http_image, "phone", replicas=2)).json()["id"]
    problems: list[str] = []
    with logged_in(suite, user.email, problems, viewport=(390, 844)) as page:
        expect(page.get_by_role("link", name=app_id, exact=True)).to_be_visible()
        wider = page.evaluate(WIDER_THAN_THE_SCREEN)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, (
            f"the apps page is wider than a phone: {wider}"
        )
        screenshot(page, "phone-apps")
        page.get_by_role("link", name=app_id, exact=True).click()
        expect(page.locator("h1 .status")).to_have_text("running", timeout=60_000)
        expect(page.get_by_role("row", name=re.compile(r"^http 2 2"))).to_be_visible()
        page.get_by_role("form", name="replicas of http").get_by_role("spinbutton").fill("1")
        page.get_by_role("button", name="Set").click()
        expect(page.get_by_role("row", name=re.compile(r"^http 1 1"))).to_be_visible(timeout=60_000)
        wider = page.evaluate(WIDER_THAN_THE_SCREEN)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, (
            f"the app's page is wider than a phone: {wider}"
        )
        screenshot(page, "phone-app")
    assert problems == []
    user.delete(f"/apps/{app_id}")
