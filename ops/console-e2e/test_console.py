"""The staff console in a real browser (Debian chromium) against a real `consultvault serve`.

No sleeps that race: every wait is for a selector, a URL or a count, within Playwright's timeouts."""

import re
import urllib.error
import urllib.request
import uuid

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from conftest import login, new_context, relay_post

XSS = ["<script>window.__xss=1</script>", '"><img src=x onerror="window.__xss=1">']


def new_case(vault, text):
    """A fresh channel user's first message: a new queue case. Returns (answer, channel user)."""
    user = "U" + uuid.uuid4().hex
    return relay_post(vault["base"], vault["relay_token"], text, channel_user=user), user


def open_case(page, case_id):
    page.goto(f"/console/cases/{case_id}")
    expect(page.locator("[data-transcript]")).to_be_visible()


def test_counselor_loop_live_message_and_xss_inert(browser, vault):
    first, user = new_case(vault, "いじめの相談です " + XSS[0])
    case_id = first["case_id"]
    context = new_context(browser, vault)
    page = context.new_page()
    page.add_init_script("window.__xss = 0")
    login(page, vault, "cou1")
    expect(page).to_have_url(re.compile(r"/console/desks/ijime/queue$"))
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    row = page.locator(f'[data-case-id="{case_id}"]')
    expect(row.locator(f'a[href="/console/cases/{case_id}"]')).to_be_visible()

    # Take the case: the case page opens with the transcript, the script shown as text.
    with page.expect_navigation():
        row.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/console/cases/{case_id}"))
    expect(page.locator(f'[data-message-id="{first["message_id"]}"]')).to_contain_text(XSS[0])

    # A relay message while the case is open appears without reload (the page keeps its JS state).
    page.evaluate("window.__sameDocument = true")
    second = relay_post(vault["base"], vault["relay_token"], "続きです " + XSS[1], channel_user=user)
    assert second["case_id"] == case_id
    live = page.locator(f'[data-message-id="{second["message_id"]}"]')
    expect(live).to_contain_text(XSS[1], timeout=5000)
    assert page.evaluate("window.__sameDocument") is True
    assert page.locator("img[src=x]").count() == 0

    # Reply, note, close.
    page.fill("#reply-text", "お話ししてくれてありがとう")
    with page.expect_navigation():
        page.click("[data-reply-form] button[type=submit]")
    expect(page.locator("[data-transcript] li.outbound")).to_contain_text("お話ししてくれてありがとう")
    page.fill("#note-text", "初回の連絡。学校名は未確認。")
    with page.expect_navigation():
        page.locator("form[action$='/notes'] button").click()
    expect(page.locator("[data-transcript] li.note")).to_contain_text("学校名は未確認")
    with page.expect_navigation():
        page.locator("form[action$='/close'] button").click()
    expect(page.locator("[data-case-status]")).to_have_text("終了")
    assert page.evaluate("window.__xss") == 0
    context.close()


def test_csrf_csp_and_cookie(browser, vault):
    first, _ = new_case(vault, "CSRF test")
    context = new_context(browser, vault)
    page = context.new_page()
    login(page, vault, "cou2")
    cookie = next(c for c in context.cookies() if c["name"] == "cv_session")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["secure"] is False  # plain HTTP on loopback; Secure behind an HTTPS proxy (Swift tests)
    response = page.goto("/console/desks/ijime/queue")
    headers = response.headers
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    # The session cookie goes along, the CSRF token does not: 403, and the case stays in the queue.
    refused = context.request.post(f"/console/cases/{first['case_id']}/assign", form={}, max_redirects=0)
    assert refused.status == 403
    assert refused.headers["content-security-policy"] == csp
    page.reload()
    expect(page.locator(f'[data-case-id="{first["case_id"]}"] button')).to_be_visible()
    context.close()


def test_other_desk_auditor_admin_reach_no_content(browser, vault):
    secret = "他の窓口には見えない " + uuid.uuid4().hex
    first, _ = new_case(vault, secret)
    case_id = first["case_id"]
    for username in ["cou3", "aud1", "adm1"]:
        context = new_context(browser, vault)
        page = context.new_page()
        login(page, vault, username)
        for path in ["/console/desks/ijime/queue", f"/console/cases/{case_id}"]:
            response = page.goto(path)
            assert response.status in (403, 404), (username, path, response.status)
            assert secret not in page.content()
            assert page.locator("[data-message-id]").count() == 0
        context.close()


def test_events_only_for_cases_the_user_may_list(browser, vault):
    anonymous = urllib.request.Request(vault["base"] + "/console/events")
    try:
        urllib.request.urlopen(anonymous, timeout=10)
        raise AssertionError("/console/events answered without a session")
    except urllib.error.HTTPError as e:
        assert e.code == 401
    watchers = {}
    for username in ["cou1", "cou3", "aud1", "adm1"]:
        context = new_context(browser, vault)
        page = context.new_page()
        login(page, vault, username)
        # The stream's events become elements, so that waiting is for a selector (no eval under the CSP).
        page.evaluate("""() => {
            window.__events = [];
            const s = new EventSource('/console/events');
            const mark = (cls, data) => {
                const el = document.createElement('div');
                el.className = cls;
                if (data) el.dataset.case = JSON.parse(data).case;
                el.hidden = true;
                document.body.append(el);
            };
            s.addEventListener('hello', () => mark('probe-hello'));
            s.addEventListener('case', (e) => { window.__events.push(e.data); mark('probe-case', e.data); });
        }""")
        page.locator(".probe-hello").first.wait_for(state="attached")
        watchers[username] = (context, page)
    first, _ = new_case(vault, "events test " + uuid.uuid4().hex)
    cou1 = watchers["cou1"][1]
    cou1.locator(f'.probe-case[data-case="{first["case_id"]}"]').first.wait_for(state="attached")
    for data in cou1.evaluate("window.__events"):
        assert "events test" not in data  # metadata only
    # The hub publishes to every stream at once; give the others the same second the contract allows.
    for username in ["cou3", "aud1", "adm1"]:
        page = watchers[username][1]
        page.wait_for_timeout(1000)
        assert page.locator(".probe-case").count() == 0, username
    for context, _ in watchers.values():
        context.close()


def test_enrollment_shows_fingerprint(page, vault):
    page.goto("/console/enroll")
    page.fill("#username", vault["enroll"]["username"])
    page.fill("#code", vault["enroll"]["code"])
    page.fill("#passphrase", "console-e2e-cou9-passphrase")
    page.fill("#passphrase_confirm", "console-e2e-cou9-passphrase")
    page.click("button[type=submit]")
    expect(page.locator("[data-fingerprint]")).to_have_text(re.compile(r"^[0-9a-f]{4}( [0-9a-f]{4}){7}$"))


def test_login_failure_does_not_echo(page, vault):
    page.goto("/console/login?lang=en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.fill("#username", "cou1")
    page.fill("#passphrase", "not-the-passphrase-4711")
    with page.expect_response(lambda r: r.url.endswith("/console/login") and r.request.method == "POST") as info:
        page.click("button[type=submit]")
    assert info.value.status == 401
    expect(page.locator("[role=alert]")).to_be_visible()
    assert "not-the-passphrase-4711" not in page.content()


def test_expired_session_keeps_the_typed_reply(browser, vault):
    first, _ = new_case(vault, "draft test")
    context = new_context(browser, vault)
    page = context.new_page()
    login(page, vault, "cou2")
    page.locator(f'[data-case-id="{first["case_id"]}"] button').click()
    expect(page.locator("[data-transcript]")).to_be_visible()
    page.fill("#reply-text", "途中まで書いた返信")
    context.clear_cookies()  # the session is gone, as after idle expiry
    with page.expect_navigation():
        page.click("[data-reply-form] button[type=submit]")
    expect(page).to_have_url(re.compile(r"/console/login$"))
    expect(page.locator("[data-draft-notice]")).to_be_visible()
    login(page, vault, "cou2")
    open_case(page, first["case_id"])
    expect(page.locator("#reply-text")).to_have_value("途中まで書いた返信")
    context.close()


def tab_to(page, selector, limit=80):
    """Presses Tab until the focused element matches selector."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_keyboard_only_counselor_loop(browser, vault):
    first, _ = new_case(vault, "keyboard test")
    case_id = first["case_id"]
    context = new_context(browser, vault)
    page = context.new_page()
    page.goto("/console/login")
    tab_to(page, "#username")
    page.keyboard.type("cou1")
    tab_to(page, "#passphrase")
    page.keyboard.type(vault["passphrases"]["cou1"])
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator(f'[data-case-id="{case_id}"]')).to_be_visible()
    tab_to(page, f'[data-case-id="{case_id}"] button')
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("[data-transcript]")).to_be_visible()
    tab_to(page, "#reply-text")
    page.keyboard.type("キーボードだけで返信")
    tab_to(page, "[data-reply-form] button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("[data-transcript] li.outbound")).to_contain_text("キーボードだけで返信")
    tab_to(page, "form[action$='/close'] button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("[data-case-status]")).to_have_text("終了")
    context.close()


def test_axe_no_serious_or_critical(browser, vault):
    first, _ = new_case(vault, "axe test")
    context = new_context(browser, vault, bypass_csp=True)  # only so that axe can be injected
    page = context.new_page()
    axe = Axe()
    pages = ["/console/login", "/console/enroll"]
    page.goto("/console/login")
    login(page, vault, "cou1")
    pages += ["/console/desks/ijime/queue", f"/console/cases/{first['case_id']}", "/console/account"]
    for path in pages:
        for lang in ["ja", "en"]:
            page.goto(f"{path}?lang={lang}")
            results = axe.run(page)
            bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
            assert bad == [], (path, lang, [(v["id"], v["help"]) for v in bad])
    context.close()


def test_restart_returns_to_login_and_live_updates_resume(browser, vault):
    """Last on purpose: a restart ends every session. The open case page notices (its event stream answers 401),
    goes to the login page with the typed reply kept, and after logging in live updates work again."""
    first, user = new_case(vault, "restart test")
    context = new_context(browser, vault)
    page = context.new_page()
    login(page, vault, "cou1")
    with page.expect_navigation():
        page.locator(f'[data-case-id="{first["case_id"]}"] button').click()
    page.fill("#reply-text", "再起動の前に書いた返信")
    vault["server"].stop()
    vault["server"].start()
    page.wait_for_url(re.compile(r"/console/login$"), timeout=15000)
    expect(page.locator("[data-draft-notice]")).to_be_visible()
    login(page, vault, "cou1")
    open_case(page, first["case_id"])
    expect(page.locator("#reply-text")).to_have_value("再起動の前に書いた返信")
    again = relay_post(vault["base"], vault["relay_token"], "再起動のあとのメッセージ", channel_user=user)
    expect(page.locator(f'[data-message-id="{again["message_id"]}"]')).to_contain_text("再起動のあと", timeout=5000)
    context.close()
