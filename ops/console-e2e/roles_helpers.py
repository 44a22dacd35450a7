"""Helpers shared by the supervisor, auditor and admin browser tests (test_supervisor.py, test_auditor.py,
test_admin.py): a signed-in browser context per user, and the axe check the issue asks of every page."""

import uuid

from axe_playwright_python.sync_playwright import Axe

from conftest import login, new_context, relay_post


def signed_in(browser, vault, username, **options):
    """A new browser context with `username` signed in; returns (context, page)."""
    context = new_context(browser, vault, **options)
    page = context.new_page()
    login(page, vault, username)
    return context, page


def new_case(vault, text):
    """A fresh channel user's first message on ijime: a new, unassigned queue case. Returns the relay's answer."""
    return relay_post(vault["base"], vault["relay_token"], text, channel_user="U" + uuid.uuid4().hex)


def assert_axe_clean(browser, vault, username, paths):
    """0 serious or critical axe violations on each path, in Japanese and in English (CSP bypassed only so that
    axe can be injected)."""
    context, page = signed_in(browser, vault, username, bypass_csp=True)
    axe = Axe()
    for path in paths:
        for lang in ["ja", "en"]:
            joiner = "&" if "?" in path else "?"
            response = page.goto(f"{path}{joiner}lang={lang}")
            assert response.status == 200, (path, response.status)
            results = axe.run(page)
            bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
            assert bad == [], (path, lang, [(v["id"], v["help"]) for v in bad])
    context.close()
