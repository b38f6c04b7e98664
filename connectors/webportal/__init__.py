"""Web portals with no API (buyer-hosted supplier portals, Ariba standard accounts): the invoice keyed
into the portal's own pages by a real headless Chromium, one invoice at a time, following a recipe.

Playwright is imported only where a browser runs, so `portalhub --help` and pre-flight stay fast.
"""

from connectors.webportal.connector import WebPortalConnection, WebPortalConnector
from connectors.webportal.errors import RecipeGapError

__all__ = ["RecipeGapError", "WebPortalConnection", "WebPortalConnector"]
