#!/bin/sh
# `make test` calls this before pytest: the end-to-end tests of the study page and report.html
# (tests/test_study_browser.py, tests/test_report_html.py) need a
# real headless browser. Installs Debian's chromium and its driver when they are missing and we are root with
# apt-get (CI runs as root on a fresh machine); otherwise says why, and that test skips with the same reason.
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium and chromium-driver for the study page's browser test" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
    || echo "warning: could not install chromium; the browser test will skip" >&2
else
  echo "note: no chromium/chromedriver and not root with apt-get: the study browser test will skip" >&2
fi
exit 0
