"""The auditor's pages in a real browser against a real `consultvault serve`: the access log with filters and
paging, the chain's state, the break-glass review queue with a comment, the report, and the axe check."""

import re
import uuid

from playwright.sync_api import expect

from roles_helpers import assert_axe_clean, new_case, signed_in


def test_access_log_filters_and_paging(browser, vault):
    context, page = signed_in(browser, vault, "aud1")
    expect(page).to_have_url(re.compile(r"/console/audit$"))
    rows = page.locator("tr[data-seq]")
    expect(rows.first).to_be_visible()
    seqs = [int(s) for s in rows.evaluate_all("rs => rs.map(r => r.dataset.seq)")]
    assert seqs == sorted(seqs, reverse=True)
    if page.locator("[data-page-older]").count():
        with page.expect_navigation():
            page.locator("[data-page-older]").click()
        expect(rows.first).to_have_attribute("data-seq", str(seqs[-1] - 1))
    # A refused attempt shows up under its filters.
    adm, adm_page = signed_in(browser, vault, "adm1")
    assert adm_page.goto("/console/audit").status == 403
    adm.close()
    page.goto("/console/audit")
    page.fill("#f-actor", "adm1")
    page.select_option("#f-outcome", "denied")
    with page.expect_navigation():
        page.locator("form.filters button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"outcome=denied"))
    expect(rows.first).to_have_attribute("data-outcome", "denied")
    for outcome in rows.evaluate_all("rs => rs.map(r => r.dataset.outcome)"):
        assert outcome == "denied"
    context.close()


def test_break_glass_review_and_report(browser, vault):
    first = new_case(vault, "監査テストの本文")
    case_id = first["case_id"]
    reason = "夜間の緊急対応 " + uuid.uuid4().hex[:8] + " <img src=x>"
    sup, sup_page = signed_in(browser, vault, "sup1")
    sup_page.goto(f"/console/cases/{case_id}")
    sup_page.fill("#bg-reason", reason)
    with sup_page.expect_navigation():
        sup_page.locator("form[action$='/break-glass'] button").click()
    with sup_page.expect_navigation():
        sup_page.locator("form[action$='/close'] button").click()
    sup.close()

    context, page = signed_in(browser, vault, "aud1")
    page.add_init_script("window.__xss = 0")
    page.goto("/console/audit/break-glass")
    item = page.locator("li[data-reviewed=false]", has_text=reason)
    expect(item).to_be_visible()
    assert page.locator("img[src=x]").count() == 0
    assert "監査テストの本文" not in page.content()
    item.locator("textarea").fill("理由を確認しました")
    with page.expect_navigation():
        item.locator("button[type=submit]").click()
    done = page.locator("li[data-reviewed=true]", has_text=reason)
    expect(done.locator("[data-comment]")).to_have_text("理由を確認しました")

    page.goto("/console/audit/chain")
    expect(page.locator("[data-verified]")).to_have_attribute("data-verified", "true")
    expect(page.locator("[data-unanchored]")).to_have_text(re.compile(r"^\d+$"))

    page.goto("/console/audit/report")
    expect(page.locator("[data-report]")).to_be_visible()
    expect(page.locator("[data-report] [data-breakglass-seq]", has_text=reason)).to_be_visible()
    expect(page.locator("[data-report] [data-verified]")).to_have_attribute("data-verified", "true")
    assert "監査テストの本文" not in page.content()
    context.close()


def test_auditor_pages_axe(browser, vault):
    assert_axe_clean(
        browser, vault, "aud1",
        ["/console/audit", "/console/audit/chain", "/console/audit/break-glass", "/console/audit/report"])


def test_others_get_no_auditor_pages(browser, vault):
    for username in ["cou1", "sup1", "adm1"]:
        context, page = signed_in(browser, vault, username)
        for path in ["/console/audit", "/console/audit/chain", "/console/audit/break-glass", "/console/audit/report"]:
            response = page.goto(path)
            assert response.status == 403, (username, path, response.status)
            assert page.locator("[data-seq]").count() == 0
        context.close()
