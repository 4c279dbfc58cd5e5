"""The profile URL and the actor's avatar, as fediverse servers fetch them."""
from __future__ import annotations

from tests.support.app import BASE_URL

AP = "application/activity+json"


def test_home_page_negotiates_to_the_actor(client):
    response = client.get("/", headers={"Accept": AP})
    assert response.status_code == 303 and response.headers["Location"].endswith("/actor")
    assert "Accept" in response.headers["Vary"]
    assert client.get("/").status_code == 200  # browsers still get the page


def test_actor_has_a_raster_avatar_that_is_served(client):
    actor = client.get("/actor", headers={"Accept": AP}).get_json()
    icon = actor["icon"]
    assert icon["type"] == "Image" and icon["mediaType"] == "image/png"
    assert icon["url"] == f"{BASE_URL}/static/avatar.png"
    image = client.get("/static/avatar.png")
    assert image.status_code == 200 and image.data.startswith(b"\x89PNG\r\n\x1a\n")
