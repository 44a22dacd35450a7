"""The supervisor's pages in a real browser against a real `consultvault serve`: the live dashboard, handover,
access requests, break-glass with its expiry, and the axe check. Every wait is for a selector or a text."""

import re

from playwright.sync_api import expect

from roles_helpers import assert_axe_clean, new_case, signed_in

DASHBOARD = "/console/desks/ijime/dashboard"


def test_dashboard_live_handover_and_access_request(browser, vault):
    context, page = signed_in(browser, vault, "sup1")
    page.goto(DASHBOARD)
    count = page.locator("[data-waiting-count]")
    expect(count).to_have_text(re.compile(r"^\d+$"))
    before = int(count.inner_text())
    expect(page.locator("[data-unlocked]")).to_contain_text("sup1")

    # A new message arrives: the count goes up without a reload (the page keeps its JS state).
    page.evaluate("window.__sameDocument = true")
    first = new_case(vault, "ダッシュボードの確認 <script>window.__xss=1</script>")
    case_id = first["case_id"]
    expect(count).to_have_text(str(before + 1), timeout=5000)
    row = page.locator(f'tr[data-case-id="{case_id}"]')
    expect(row).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True
    assert "ダッシュボードの確認" not in page.content()  # metadata only

    # Hand the case over to cou1.
    row.locator("select").select_option("cou1")
    with page.expect_navigation():
        row.locator("button[type=submit]").click()
    expect(page.locator("p.ok[role=status]")).to_be_visible()
    expect(page.locator(f'tr[data-case-id="{case_id}"] [data-assignee]')).to_have_text("cou1")

    # cou2 asks to read cou1's case; the supervisor approves; the grant shows with its expiry.
    cou2, cou2_page = signed_in(browser, vault, "cou2")
    response = cou2_page.goto(f"/console/cases/{case_id}")
    assert response.status == 403
    cou2_page.fill("#ar-reason", "担当者不在のため <b>確認</b>")
    with cou2_page.expect_navigation():
        cou2_page.locator("form[action$='/access-requests'] button").click()
    page.reload()
    request = page.locator("tr[data-request-id]", has_text="担当者不在のため <b>確認</b>")
    expect(request).to_be_visible()
    with page.expect_navigation():
        request.locator("form[action$='/approve'] button").click()
    grant = page.locator(f'[data-grant-case="{case_id}"]', has_text="cou2")
    expect(grant.locator("[data-expires]")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$"))
    cou2_page.goto(f"/console/cases/{case_id}")
    expect(cou2_page.locator(f'[data-message-id="{first["message_id"]}"]')).to_be_visible()
    cou2.close()
    context.close()


def test_break_glass_needs_a_reason_and_shows_its_expiry(browser, vault):
    first = new_case(vault, "緊急閲覧の確認")
    case_id = first["case_id"]
    context, page = signed_in(browser, vault, "sup1")
    page.goto(DASHBOARD)
    with page.expect_navigation():
        page.locator(f'tr[data-case-id="{case_id}"] a').click()
    expect(page.locator("[data-message-id]")).to_have_count(0)
    response = context.request.post(
        f"/console/cases/{case_id}/break-glass",
        form={"csrf": page.locator('meta[name="csrf-token"]').get_attribute("content"), "reason": " "},
        max_redirects=0)
    assert response.status == 400
    page.fill("#bg-reason", "本人から電話で緊急の連絡")
    with page.expect_navigation():
        page.locator("form[action$='/break-glass'] button").click()
    expect(page.locator(f'[data-message-id="{first["message_id"]}"]')).to_contain_text("緊急閲覧の確認")
    expect(page.locator("[data-access-until] time")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$"))
    page.goto(DASHBOARD)
    grant = page.locator(f'[data-grant-case="{case_id}"]', has_text="sup1")
    expect(grant.locator("[data-expires]")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$"))
    # Close the case so it leaves the desk queue.
    page.goto(f"/console/cases/{case_id}")
    with page.expect_navigation():
        page.locator("form[action$='/close'] button").click()
    context.close()


def test_supervisor_pages_axe(browser, vault):
    new_case(vault, "axe dashboard")
    assert_axe_clean(browser, vault, "sup1", [DASHBOARD, "/console/desks/ijime/members"])


def test_others_get_no_supervisor_pages(browser, vault):
    for username in ["cou1", "sup2", "aud1", "adm1"]:
        context, page = signed_in(browser, vault, username)
        for path in [DASHBOARD, "/console/desks/ijime/members"]:
            response = page.goto(path)
            assert response.status in (403, 404), (username, path, response.status)
            assert page.locator("[data-waiting-count]").count() == 0
        context.close()
