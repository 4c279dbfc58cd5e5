"""Real-browser tests (headless Chromium through Playwright)."""
