"""Screenshots of the console's main views for the README (docs/console/*.png), from a running console.

    HOLD=1 CONSOLE_PORT=8080 make demo      # in one terminal: the demo day, the console kept up
    .venv/bin/python scripts/console_screenshots.py http://127.0.0.1:8080 demo demo-password docs/console
"""

import json
import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def main(url: str, name: str, password: str, out: str) -> int:
    Path(out).mkdir(parents=True, exist_ok=True)
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1100", "--hide-scrollbars"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        d.get(url + "/login")
        d.save_screenshot(f"{out}/login.png")
        d.find_element(By.ID, "name").send_keys(name)
        d.find_element(By.ID, "password").send_keys(password)
        d.find_element(By.ID, "login").click()
        time.sleep(1.5)
        d.save_screenshot(f"{out}/list.png")
        d.get(url + "/api/incidents")
        incidents = json.loads(d.find_element(By.TAG_NAME, "body").text)["incidents"]
        pick = (next((i for i in incidents if "anomaly" in i["rules"]), None)
                or next((i for i in incidents if i["severity"] == "critical"), incidents[0]))
        d.get(f"{url}/incident/{pick['incident_id']}")
        time.sleep(0.5)
        d.set_window_size(1500, max(1100, d.execute_script("return document.body.scrollHeight") + 40))
        d.save_screenshot(f"{out}/incident.png")
    finally:
        d.quit()
    print(f"screenshots of {url} in {out}/: login.png, list.png, incident.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
