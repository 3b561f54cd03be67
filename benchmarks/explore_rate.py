"""Updates per second of ``igmm explore`` in headless Chromium, at n = 30 and n = 1,000 (``make bench-explore``).

An update is one step drawn: the page asks for the step, the server takes it
(igmm.api.iterate) and sends what changed, and every panel is redrawn. The
page plays "as fast as possible" for ``--seconds`` and reports its own rate
(steps drawn over the last 2 s) and the mean time of a request and of drawing.
Exit status 1 when the rate at n = 30 is below the target of 20 updates/s.

    python benchmarks/explore_rate.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
import time

TARGET_N30 = 20.0
CASES = {"n = 30": "?T=2000&seed=1", "n = 1000": "?n=1000&k=10&T=2000&seed=1"}


def measure(seconds: float) -> dict:
    import uvicorn
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import Select

    from igmm.explore.app import create_app, listening_socket

    sock, address = listening_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(), log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("google-chrome")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1200"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    results = {}
    try:
        for name, query in CASES.items():
            driver.get(address + query)
            deadline = time.monotonic() + 120
            while not driver.execute_script("return document.body.dataset.ready === '1' && explorer.t >= 0"):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name}: the page did not start")
                time.sleep(0.1)
            Select(driver.find_element("id", "speed")).select_by_value("0")
            driver.find_element("id", "play").click()
            time.sleep(seconds)
            rate, t, timing = driver.execute_script("return [explorer.rate, explorer.t, explorer.timing]")
            driver.find_element("id", "pause").click()
            results[name] = {"updates_per_s": round(rate, 1), "steps": t, "request_ms": round(timing["request"], 1),
                             "draw_ms": round(timing["draw"], 1)}
    finally:
        driver.quit()
        server.should_exit = True
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="play time per case (default 5)")
    args = parser.parse_args()
    results = measure(args.seconds)
    print(json.dumps(results, indent=2))
    return 0 if results["n = 30"]["updates_per_s"] >= TARGET_N30 else 1


if __name__ == "__main__":
    sys.exit(main())
