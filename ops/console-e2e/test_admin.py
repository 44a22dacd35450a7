"""The admin page in a real browser against a real `consultvault serve`, and the whole onboarding of a member:
admin adds the user (the code shown once, never in a URL) → the user enrolls → admin invites them to ijime →
supervisor sup1 confirms by typing the fingerprint → the new counselor sees the desk's queue. Plus relay tokens,
disabling, and the axe check."""

import re
import uuid

from playwright.sync_api import expect

from conftest import new_context
from roles_helpers import assert_axe_clean, signed_in


def test_add_user_enroll_invite_confirm(browser, vault):
    username = "e2e" + uuid.uuid4().hex[:8]
    passphrase = "console-e2e passphrase for " + username
    admin, page = signed_in(browser, vault, "adm1")
    expect(page).to_have_url(re.compile(r"/console/admin$"))
    page.fill("#new-username", username)
    page.select_option("#new-role", "counselor")
    with page.expect_navigation():
        page.locator("form[data-add-user] button[type=submit]").click()
    code = page.locator("[data-enrollment-code]")
    expect(code).to_have_text(re.compile(r"\S{16,}"))
    enrollment_code = code.inner_text()
    assert enrollment_code not in page.url
    expect(page.locator(f'tr[data-user="{username}"]')).to_have_attribute("data-state", "pending")
    page.goto("/console/admin")
    assert enrollment_code not in page.content()  # shown once

    # The new user enrolls in their own browser and reads the fingerprint out.
    person = new_context(browser, vault)
    person_page = person.new_page()
    person_page.goto("/console/enroll")
    person_page.fill("#username", username)
    person_page.fill("#code", enrollment_code)
    person_page.fill("#passphrase", passphrase)
    person_page.fill("#passphrase_confirm", passphrase)
    person_page.click("button[type=submit]")
    fingerprint = person_page.locator("[data-fingerprint]")
    expect(fingerprint).to_have_text(re.compile(r"^[0-9a-f]{4}( [0-9a-f]{4}){7}$"))
    spoken = fingerprint.inner_text()

    # The admin invites them to ijime.
    page.select_option("#inv-desk", "ijime")
    page.fill("#inv-user", username)
    with page.expect_navigation():
        page.locator("form[action='/console/admin/invites'] button").click()
    expect(page.locator("[data-done]")).to_be_visible()

    # The supervisor types a wrong fingerprint (409, nothing sealed), then the spoken one.
    sup, sup_page = signed_in(browser, vault, "sup1")
    sup_page.goto("/console/desks/ijime/members")
    row = sup_page.locator(f'tr[data-member="{username}"]')
    expect(row).to_have_attribute("data-state", "invited")
    assert spoken not in sup_page.content()  # typed, never copied from the page
    row.locator("input[name=fingerprint]").fill("0000 0000 0000 0000 0000 0000 0000 0000")
    with sup_page.expect_response(lambda r: r.request.method == "POST") as answer:
        row.locator("button[type=submit]").click()
    assert answer.value.status == 409
    expect(sup_page.locator("[data-error]")).to_be_visible()
    row = sup_page.locator(f'tr[data-member="{username}"]')
    expect(row).to_have_attribute("data-state", "invited")
    row.locator("input[name=fingerprint]").fill(spoken)
    with sup_page.expect_navigation():
        row.locator("button[type=submit]").click()
    expect(sup_page.locator(f'tr[data-member="{username}"]')).to_have_attribute("data-state", "confirmed")
    sup.close()

    # The new counselor signs in and lands on the desk's queue.
    person_page.goto("/console/login")
    person_page.fill("#username", username)
    person_page.fill("#passphrase", passphrase)
    with person_page.expect_navigation():
        person_page.click("button[type=submit]")
    expect(person_page).to_have_url(re.compile(r"/console/desks/ijime/queue$"))
    person.close()

    # Disabling the account ends it.
    page.goto("/console/admin")
    with page.expect_navigation():
        page.locator(f'tr[data-user="{username}"] button').click()
    expect(page.locator(f'tr[data-user="{username}"]')).to_have_attribute("data-state", "disabled")
    admin.close()


def test_relay_token_shown_once_and_revoked(browser, vault):
    name = "relay-e2e-" + uuid.uuid4().hex[:6]
    context, page = signed_in(browser, vault, "adm1")
    page.fill("#tok-name", name)
    page.fill("#tok-desks", "ijime")
    with page.expect_navigation():
        page.locator("form[action='/console/admin/tokens'] button").click()
    token = page.locator("[data-relay-token]")
    expect(token).to_have_text(re.compile(r"\S{20,}"))
    secret = token.inner_text()
    assert secret not in page.url
    page.goto("/console/admin")
    assert secret not in page.content()
    assert vault["relay_token"] not in page.content()
    with page.expect_navigation():
        page.locator(f'tr[data-token="{name}"] button').click()
    expect(page.locator(f'tr[data-token="{name}"] button')).to_have_count(0)
    context.close()


def test_admin_page_axe(browser, vault):
    assert_axe_clean(browser, vault, "adm1", ["/console/admin"])


def test_others_get_no_admin_page(browser, vault):
    for username in ["cou1", "sup1", "aud1"]:
        context, page = signed_in(browser, vault, username)
        response = page.goto("/console/admin")
        assert response.status == 403, (username, response.status)
        assert page.locator("[data-add-user]").count() == 0
        page.goto("/console/account")  # a page of theirs, for their valid CSRF token
        csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
        assert csrf
        refused = context.request.post(
            "/console/admin/users", form={"csrf": csrf, "username": "x" + username, "role": "admin"},
            max_redirects=0)
        assert refused.status == 403
        assert "data-enrollment-code" not in refused.text()
        context.close()
