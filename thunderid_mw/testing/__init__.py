"""A test kit for apps that use thunderid_mw: sign a fake user in through the app's real
middleware, with no identity provider to run.

Installed as a pytest plugin (the ``thunderid`` fixture); see docs/testing-your-app.md::

    def test_profile(thunderid):
        client = create_app(thunderid.config()).test_client()
        thunderid.sign_in(client, claims={"name": "Ada"})
        assert "Ada" in client.get("/profile").text
"""

from .kit import FakeThunderID, TestKitError
from .provider import FakeProvider, FakeUser

__all__ = ["FakeProvider", "FakeThunderID", "FakeUser", "TestKitError"]
