"""A shop page on its own local origin that loads the vendored analytics.js, and chromium kept offline."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS

VENDOR = Path(__file__).parents[1] / "vendor" / "analytics-next"
BUNDLE = "analytics-next.umd.js"
SHOP_PAGE = Path(__file__).with_name("shop.html")
# Every host but 127.0.0.1 fails to resolve, so nothing can reach the internet.
OFFLINE_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


def vendored_bundle() -> tuple[str, bytes]:
    """(version, bytes) of the vendored analytics.js, failing the test if it is missing or was edited."""
    manifest_path = VENDOR / "package.json"
    bundle_path = VENDOR / BUNDLE
    if not manifest_path.is_file() or not bundle_path.is_file():
        pytest.fail(f"vendored analytics.js is missing under {VENDOR}: see its README.md to refresh it")
    vendored = json.loads(manifest_path.read_text())["vendored"]
    body = bundle_path.read_bytes()
    expected = vendored["files"][BUNDLE]["sha256"]
    actual = hashlib.sha256(body).hexdigest()
    if actual != expected:
        pytest.fail(f"{bundle_path} is not the file published on npm (sha256 {actual}, expected {expected})")
    return str(vendored["version"]), body


class Shop:
    """A tiny static site on 127.0.0.1 (its own origin, so calls to siyu are cross-origin)."""

    def __init__(self, bundle: bytes) -> None:
        self.files: dict[str, tuple[str, bytes]] = {
            f"/vendor/{BUNDLE}": ("text/javascript; charset=utf-8", bundle),
        }
        files = self.files

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                content_type, body = files.get(self.path.split("?")[0], ("text/plain", b""))
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def set_page(self, config: dict[str, Any]) -> str:
        """Serve the shop page with `config` (writeKey, apiHost, deliveryStrategy); returns its URL."""
        html = SHOP_PAGE.read_text().replace("__SHOP_CONFIG__", json.dumps(config))
        self.files["/"] = ("text/html; charset=utf-8", html.encode())
        return f"{self.url}/"


@pytest.fixture(scope="session")
def analytics_js() -> tuple[str, bytes]:
    return vendored_bundle()


@pytest.fixture
def shop(analytics_js: tuple[str, bytes]) -> Iterator[Shop]:
    site = Shop(analytics_js[1])
    site.thread.start()
    yield site
    site.server.shutdown()
    site.server.server_close()
    site.thread.join(timeout=10)


@pytest.fixture(scope="module")
def offline_browser() -> Iterator[Any]:
    """Debian's chromium, as in tests/web, with every host name unresolvable."""
    from playwright import sync_api

    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: run `make deps` (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + OFFLINE_ARGS)
        yield launched
        launched.close()
