"""Drives the broker's web console (docs/console.md) in headless Chromium through Selenium.

Called by interop/tests/broker_console.rs once per phase, between the steps the Rust test
takes with a real RocketMQ client:

  create   Topic page: create the topic with the form; its row appears.
  inspect  Topic page: live chart of --live-topic; Message page: messages by time, one by
           key and its detail; Consumer page: the group's lag.
  reset    Consumer page: reset the group by time (online); watch its lag fall back to 0
           as the running client consumes again.

Uses Debian's chromium and chromedriver (no downloads). Screenshots go to --shots.
Prints one JSON line with what it saw; exits non-zero when a step does not happen.
"""

import argparse
import json
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

WAIT = 20


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", "--window-size=1400,1100"):
        options.add_argument(arg)
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(service=service, options=options)


class Console:
    def __init__(self, driver, url, shots):
        self.driver, self.url, self.shots = driver, url.rstrip("/"), shots

    def page(self, name):
        self.driver.get(f"{self.url}/#{name}")
        WebDriverWait(self.driver, WAIT).until(
            lambda d: "active" in d.find_element(By.ID, "page-" + name).get_attribute("class"))

    def el(self, element_id):
        return self.driver.find_element(By.ID, element_id)

    def fill(self, element_id, text):
        field = self.el(element_id)
        field.clear()
        field.send_keys(str(text))

    def wait(self, what, condition, timeout=WAIT):
        # The console re-renders its tables when an answer arrives, so an element found a
        # moment ago can be gone when the condition reads it: that is "not yet", not a failure.
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.25,
                                 ignored_exceptions=(NoSuchElementException,
                                                     StaleElementReferenceException)).until(
                lambda d: condition())
        except Exception as error:
            self.shot("failed-" + what.replace(" ", "-"))
            status = self.el("status").text
            raise SystemExit(f"console: {what} did not happen within {timeout}s "
                             f"(status: {status!r}; {type(error).__name__})")

    def shot(self, name):
        os.makedirs(self.shots, exist_ok=True)
        self.driver.save_screenshot(os.path.join(self.shots, name + ".png"))

    def exists(self, element_id):
        return len(self.driver.find_elements(By.ID, element_id)) > 0

    def text(self, element_id):
        found = self.driver.find_elements(By.ID, element_id)
        return found[0].text if found else None


def create(console, args):
    console.page("topic")
    console.fill("topic-name", args.topic)
    console.fill("topic-read", 4)
    console.fill("topic-write", 4)
    console.el("topic-create").click()
    console.wait("topic row", lambda: console.exists("topic-row-" + args.topic))
    console.shot("01-topic-created")
    return {"created": args.topic}


def inspect(console, args):
    result = {}
    # Live charts of a topic that is receiving traffic.
    console.page("topic")
    console.wait("live topic row", lambda: console.exists("topic-row-" + args.live_topic))
    row = console.el("topic-row-" + args.live_topic)
    row.find_element(By.CSS_SELECTOR, "button[data-act=live]").click()
    console.wait("throughput", lambda: "msg/s" in (console.text("tps-now") or ""))
    rates = []
    p50s = []
    deadline = time.time() + 6
    while time.time() < deadline:
        text = console.text("tps-now") or ""
        try:
            rates.append(float(text.split()[0]))
        except ValueError:
            pass
        # The send latency of the second, shown while the topic receives traffic.
        try:
            p50s.append(float(console.text("latency-p50") or ""))
        except ValueError:
            pass
        time.sleep(1)
    result["live_rates"] = rates
    result["live_p50s"] = p50s
    result["latency_text"] = console.text("latency-now")
    console.shot("02-live-charts")

    # Messages by time: every message of the topic.
    console.page("message")
    console.fill("msg-topic", args.topic)
    console.fill("msg-begin", 0)
    console.el("msg-time-submit").click()
    console.wait("messages by time", lambda: len(
        console.driver.find_elements(By.CSS_SELECTOR, "#message-table tr.message-row")) >= args.count)
    result["by_time"] = len(console.driver.find_elements(By.CSS_SELECTOR, "#message-table tr.message-row"))
    console.shot("03-messages-by-time")

    # By key, then its detail.
    console.fill("key-topic", args.topic)
    console.fill("key-key", args.key)
    console.el("msg-key-submit").click()
    console.wait("message by key", lambda: [r.get_attribute("data-msgid") for r in
        console.driver.find_elements(By.CSS_SELECTOR, "#message-table tr.message-row")] == [args.msg_id])
    console.driver.find_element(By.CSS_SELECTOR, "#message-table button[data-id]").click()
    console.wait("message detail", lambda: console.text("detail-body") == args.body)
    result["key_msg_id"] = console.text("detail-msgid")
    result["body"] = console.text("detail-body")
    console.shot("04-message-by-key")

    # The group's lag, on the Consumer page.
    console.page("consumer")
    console.wait("group row", lambda: console.exists("group-row-" + args.group))
    console.el("group-row-" + args.group).click()
    console.wait("group lag", lambda: console.text("group-lag") == str(args.lag))
    result["lag"] = int(console.text("group-lag"))
    console.shot("05-consumer-lag")
    return result


def reset(console, args):
    console.page("consumer")
    console.wait("group row", lambda: console.exists("group-row-" + args.group))
    console.el("group-row-" + args.group).click()
    console.wait("group detail", lambda: console.text("group-lag") is not None)
    console.fill("reset-topic", args.topic)
    console.fill("reset-time", args.timestamp)
    console.el("reset-submit").click()
    console.wait("reset", lambda: console.text("reset-mode") == "online")
    result = {"mode": console.text("reset-mode"), "reset": console.el("reset-result").text}
    console.shot("06-reset-online")
    # Watch the running client consume again: lag rises (offsets moved back), then falls
    # to 0 as the client commits what it consumed again.
    lags = []

    def caught_up():
        console.el("groups-refresh").click()
        time.sleep(0.5)
        text = console.text("group-lag")
        if text is not None and text.isdigit():
            lags.append(int(text))
        return bool(lags) and max(lags) > 0 and lags[-1] == 0

    console.wait("re-consume", caught_up, timeout=45)
    result["lags"] = lags
    console.shot("07-reconsumed")
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--phase", required=True, choices=["create", "inspect", "reset"])
    parser.add_argument("--shots", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--live-topic")
    parser.add_argument("--group")
    parser.add_argument("--key")
    parser.add_argument("--msg-id")
    parser.add_argument("--body")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--lag", type=int, default=0)
    parser.add_argument("--timestamp")
    args = parser.parse_args()
    driver = browser()
    try:
        console = Console(driver, args.url, args.shots)
        result = {"create": create, "inspect": inspect, "reset": reset}[args.phase](console, args)
    finally:
        driver.quit()
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
