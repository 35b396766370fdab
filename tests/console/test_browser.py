"""The console in a real browser (Debian's chromium and chromedriver, driven by Selenium) against a real
`octogate serve` with its built-in SMSC simulator. Screenshots go to $OCTOGATE_SCREENSHOTS (or a temporary
folder, printed). Skipped only when chromium or chromedriver is not installed (.ci/run installs them)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from live.conftest import LiveServer, free_port, start_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs chromium and chromedriver (apt)")
WAIT = 30  # seconds: a generous bound for a page or a receipt (the simulator's receipts take about 1 s)
OPERATOR_PASSWORD = "operator password 1"


@pytest.fixture
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("OCTOGATE_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {folder}")
    return folder


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    # The sandbox's control interface on its own port (2776 may be another gateway's on this machine).
    live = start_server(tmp_path, {"OCTOGATE_SIMULATOR_CONTROL": f"127.0.0.1:{free_port()}"})
    yield live
    live.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000",
                     "--disable-gpu", "--lang=en-GB"):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER or ""), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def demo_password(server: LiveServer) -> str:
    found = re.search(r"with password (\S+)", "".join(server.output))
    assert found, "octogate serve prints the demo account's console password at its first start"
    return found.group(1)


def wait_for(driver: Any, condition: Any) -> Any:
    """Until `condition` holds; an element the page's live update replaced meanwhile is looked for again."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    ignored = (NoSuchElementException, StaleElementReferenceException, IndexError)
    return WebDriverWait(driver, WAIT, poll_frequency=0.1, ignored_exceptions=ignored).until(condition)


def sign_in(driver: Any, server: LiveServer, login: str, password: str, role: str = "customer") -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{server.base_url}/console/login")
    driver.find_element(By.NAME, "login").send_keys(login)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, f"input[name=role][value={role}]").click()
    driver.find_element(By.CSS_SELECTOR, "button.primary").click()
    wait_for(driver, lambda d: "/console/login" not in d.current_url)


def policy_violations(driver: Any) -> list[str]:
    """What the browser refused under the Content-Security-Policy (none: every script and style is a file)."""
    return [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]


def test_a_customer_sends_from_the_form_and_watches_the_receipt(
    server: LiveServer, browser: Any, shots: Path
) -> None:
    from selenium.webdriver.common.by import By

    sign_in(browser, server, server.login, demo_password(server))
    assert browser.find_element(By.ID, "balance").text.startswith("100.00")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".chart-box .uplot"))  # the chart was drawn
    browser.save_screenshot(str(shots / "01-customer-overview.png"))

    browser.get(f"{server.base_url}/console/send")
    browser.find_element(By.NAME, "recipients").send_keys("+33612345678\n+33612345679")
    browser.find_element(By.NAME, "sender").send_keys("MyShop")
    browser.find_element(By.NAME, "transactional").click()
    browser.find_element(By.NAME, "with_replies").click()
    browser.find_element(By.NAME, "text").send_keys("Your order has shipped")
    # The live estimate (htmx, the API's own simulation), without pressing anything.
    wait_for(
        browser,
        lambda d: (
            d.find_elements(By.ID, "estimate-sms") and d.find_element(By.ID, "estimate-sms").text == "2"
        ),
    )
    assert "EUR" in browser.find_element(By.ID, "estimate-cost").text
    browser.save_screenshot(str(shots / "02-send-form-live-estimate.png"))

    browser.find_element(By.ID, "send-button").click()
    wait_for(browser, lambda d: "/console/campaigns/api" in d.current_url)
    assert "Campaign accepted" in browser.page_source
    # The page follows the campaign by itself until its receipts are in.
    wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "[data-status=delivered]").text == "2")
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.recipient")
    assert len(rows) == 2 and all("DELIVERED" in row.text for row in rows)
    browser.save_screenshot(str(shots / "03-campaign-receipts-arrived.png"))

    # The SMS sandbox: the phone shows the message with its receipt; it replies; the reply is in Replies.
    browser.find_element(By.LINK_TEXT, "Sandbox").click()
    browser.find_element(By.PARTIAL_LINK_TEXT, "+33612345678").click()
    wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "li.mt .receipt").text.startswith("delivered"))
    # (read through wait_for: the page's live update may replace the elements between two reads)
    wait_for(browser, lambda d: "Your order has shipped" in d.find_element(By.CSS_SELECTOR, "li.mt .text").text)
    wait_for(browser, lambda d: "gsm7 · 1 SMS" in d.find_element(By.CSS_SELECTOR, "li.mt summary").text)
    browser.find_element(By.ID, "sandbox-text").send_keys("Thanks, see you tomorrow")
    browser.find_element(By.CSS_SELECTOR, "form.reply button").click()
    wait_for(browser, lambda d: "Thanks, see you tomorrow" in d.find_element(By.CSS_SELECTOR, "li.mo .text").text)
    browser.save_screenshot(str(shots / "03b-sandbox-phone-replied.png"))
    # A message sent while the page is open shows up by itself (the page's long poll), without a reload.
    browser.execute_script("window.stillThisPage = true;")
    answer = httpx.post(
        f"{server.base_url}/api/sms",
        data={"user_login": server.login, "api_key": server.api_key, "sms_recipients": "+33612345678",
              "sms_text": "Your parcel is at the pick-up point: code 4417 ✓", "sms_type": "FR",
              "sms_sender": "MyShop", "transactional": "1"},
        timeout=30,
    )  # fmt: skip
    assert "<error_code>000</error_code>" in answer.text, answer.text
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "li.mt")) == 2)
    assert browser.execute_script("return window.stillThisPage === true;")  # no reload happened
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "li.mt .receipt")[1].text.startswith("delivered"))
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "li.mt summary")[1].click() or True)  # parts
    wait_for(browser, lambda d: "ucs2 · 1 SMS" in d.find_elements(By.CSS_SELECTOR, "li.mt summary")[1].text)
    browser.save_screenshot(str(shots / "03c-sandbox-live-message-and-parts.png"))
    browser.find_element(By.LINK_TEXT, "Replies & STOPs").click()
    wait_for(browser, lambda d: "Thanks, see you tomorrow" in d.page_source or d.refresh())
    row = browser.find_element(By.XPATH, "//tr[td[contains(., 'Thanks, see you tomorrow')]]")
    assert "+33612345678" in row.text and "reply" in row.text.lower()
    browser.save_screenshot(str(shots / "03d-reply-in-the-console.png"))

    browser.set_window_size(390, 900)  # a phone's width
    browser.get(f"{server.base_url}/console/home")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".chart-box .uplot"))
    browser.save_screenshot(str(shots / "04-overview-phone-width.png"))
    assert (
        browser.execute_script("return document.documentElement.scrollWidth") <= 400
    )  # no sideways scrolling
    assert policy_violations(browser) == []


def test_an_operator_credits_an_account_and_finds_it_in_the_audit_log(
    server: LiveServer, browser: Any, shots: Path
) -> None:
    from selenium.webdriver.common.by import By

    made = subprocess.run(
        [sys.executable, "-m", "octogate.cli", "operator", "create", "ops@octogate.test", "--password-stdin",
         "--database-url", server.database_url],
        input=OPERATOR_PASSWORD + "\n", capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    sign_in(browser, server, "ops@octogate.test", OPERATOR_PASSWORD, role="operator")
    browser.find_element(By.LINK_TEXT, server.login).click()
    browser.find_element(By.NAME, "amount").send_keys("12.50")
    browser.find_element(By.NAME, "reason").send_keys("bank transfer 2026-118")
    browser.find_element(By.CSS_SELECTOR, "form[action$='/credit'] button").click()
    wait_for(browser, lambda d: "Credited 12.50 EUR" in d.page_source)
    assert browser.find_element(By.ID, "balance").text.startswith("112.50")
    browser.save_screenshot(str(shots / "05-operator-credit.png"))

    # The connectors as the delivery process reports them (the built-in simulator, bound), and the sandbox.
    browser.find_element(By.LINK_TEXT, "Connectors").click()
    live = browser.find_element(By.CSS_SELECTOR, "#live-connectors tr.connector[data-name=simulator]")
    assert "bound" in live.text and "1 / 1" in live.text and "/ 64" in live.text
    browser.save_screenshot(str(shots / "05b-operator-connectors.png"))
    browser.find_element(By.LINK_TEXT, "Sandbox").click()
    assert "No phone has received anything yet" in browser.page_source

    browser.find_element(By.LINK_TEXT, "Audit log").click()
    first = browser.find_element(By.CSS_SELECTOR, "tr.audit")
    assert "operator:ops@octogate.test" in first.text and "account.credit" in first.text
    assert "12.50 EUR: bank transfer 2026-118" in first.text and server.login in first.text
    browser.save_screenshot(str(shots / "06-operator-audit-log.png"))
    assert policy_violations(browser) == []


def test_a_customer_asking_for_another_accounts_campaign_is_refused(
    server: LiveServer, browser: Any, shots: Path
) -> None:

    created = server.cli("account", "create", "other@example.com", "--credit", "10")
    key = re.search(r"api_key=(\S+)", created.stdout).group(1)  # type: ignore[union-attr]
    answer = httpx.post(
        f"{server.base_url}/api/sms",
        data={"user_login": "other@example.com", "api_key": key, "sms_recipients": "+33699990000",
              "sms_text": "Private offer STOP au XXXXX", "sms_type": "FR", "sms_sender": "Other"},
        timeout=30,
    )  # fmt: skip
    ticket = re.search(r"<ticket>(\w+)</ticket>", answer.text).group(1)  # type: ignore[union-attr]
    sign_in(browser, server, server.login, demo_password(server))
    browser.get(f"{server.base_url}/console/campaigns/{ticket}")
    assert "No such campaign in your account" in browser.page_source
    assert "+33699990000" not in browser.page_source and "Private offer" not in browser.page_source
    browser.save_screenshot(str(shots / "07-other-accounts-campaign-refused.png"))
    browser.get(f"{server.base_url}/console/op/audit")
    assert "This page is for operators" in browser.page_source
