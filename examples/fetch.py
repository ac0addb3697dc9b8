"""Fails under the default policy (no network) so boxpy's report shows what to change."""

import urllib.request

with urllib.request.urlopen("https://example.com", timeout=5) as response:
    print(response.status)
