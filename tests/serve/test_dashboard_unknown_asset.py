"""The asset page of an asset the store does not know (a mistyped or an old link) is a 404 page that says so and
links the fleet, not the asset page: its event form would have filed a failure under the mistyped id, and the store
creates an asset it does not know on the first event."""

from __future__ import annotations

from .test_api import make_client


def test_an_unknown_asset_gets_a_404_page_without_the_event_form(sample) -> None:  # type: ignore[no-untyped-def]
    with make_client(sample) as client:
        page = client.get("/assets/P-0O1")  # the letter O for a zero
        assert page.status_code == 404
        assert "No asset P-0O1" in page.text and 'href="/"' in page.text
        assert 'id="event-form"' not in page.text and 'data-page="missing"' in page.text
        known = client.get("/assets/P-001")
        assert known.status_code == 200 and 'id="event-form"' in known.text
