"""An operator logs into the admin in a real browser, on a desktop and on a phone-sized screen."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.mark.parametrize("width", [1280, 390])
def test_an_operator_can_log_in_on_desktop_and_phone_widths(page, live_server, django_user_model, width):
    django_user_model.objects.create_superuser("erika", password="geheim-123")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/")
    page.fill("#id_username", "erika")
    page.fill("#id_password", "geheim-123")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    # The browser asks for German (the page fixture's locale): the German admin.
    assert "Website-Verwaltung" in page.title()
    assert page.locator("a", has_text="Abmelden").or_(page.locator("button", has_text="Abmelden")).first.is_visible()
    # Nothing wider than the screen: the page is usable without horizontal scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
