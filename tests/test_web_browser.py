"""The dashboard in a real browser: a real hub, real nodes, real programs, pages looked at as a person would.

One hub and one browser serve the whole module. Screenshots of every page, at desktop and phone
size, are saved under the module's temporary folder (the path is printed with -s).
"""
from __future__ import annotations

import socket
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from hub.web.pages import PAGES
from tests.browser import browser, screenshots
from tests.fakeapps import start_fake_app, stop_fake_app, unique_name
from tests.processes import Mesh
from tests.waiting import wait_for
from tests.webhub import WebHub, add_account, start_web_hub

pytestmark = pytest.mark.timeout(120)
PASSWORD = "correct horse battery"


class Lab:
    """The module's hub, nodes and programs."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.mesh = Mesh(folder, f"sqlite:///{folder / 'procmesh.db'}")
        self.program = unique_name("pmweb")
        self.user = unique_name("pmuser")
        self.computer = socket.gethostname()
        self.shots = folder / "screenshots"
        self.mesh.watch_file.write_text(f"{self.program}\n")
        add_account(self.mesh, "ada", "admin", PASSWORD)
        add_account(self.mesh, "vic", "viewer", PASSWORD)
        self.web: WebHub = start_web_hub(self.mesh)
        self.app = start_fake_app(folder, self.program)
        self.mesh.start_node(f"{self.computer}/{self.user}", extra_env={"USER": self.user, "LOGNAME": self.user})

    def close(self) -> None:
        stop_fake_app(self.app)
        self.mesh.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(tmp_path_factory.mktemp("web-browser"))
    print(f"screenshots in {lab.shots}")
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    yield from browser(tmp_path_factory.mktemp("chromium-profile"))


def sign_in(driver: WebDriver, lab: Lab, name: str) -> None:
    driver.get(lab.web.url + "login")
    driver.find_element(By.NAME, "name").send_keys(name)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form.login button").click()
    wait_for(lambda: f"{name} (" in driver.page_source, 15, f"{name} signed in")


def sign_out(driver: WebDriver) -> None:
    driver.find_element(By.CSS_SELECTOR, ".who button").click()
    wait_for(lambda: driver.find_elements(By.NAME, "password"), 15, "the login page")


def csv_as(driver: WebDriver, lab: Lab, path: str) -> str:
    """A CSV download with the browser's own session cookie."""
    cookies = {c["name"]: c["value"] for c in driver.get_cookies()}
    response = httpx.get(lab.web.url + path.lstrip("/"), cookies=cookies, timeout=30)
    assert response.status_code == 200, path
    return response.text


def cell_texts(driver: WebDriver, table: str) -> list[list[str]]:
    rows = driver.find_elements(By.CSS_SELECTOR, f"#table-{table} tbody tr")
    return [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in rows]


def test_nodes_page_lists_the_node_online(driver: WebDriver, lab: Lab) -> None:
    sign_in(driver, lab, "ada")
    driver.get(lab.web.url + "nodes")
    wait_for(lambda: driver.refresh() or any(lab.user in row and "online" in row for row in cell_texts(driver, "nodes")),
             30, "the node online on the Nodes page")
    screenshots(driver, lab.shots, "nodes")
    csv = csv_as(driver, lab, "/nodes.csv")
    assert csv.splitlines()[0].startswith("computer,user,node,state,last_seen")
    assert any(lab.user in line and ",online," in line for line in csv.splitlines()[1:])
    sign_out(driver)


def test_a_viewer_never_sees_a_real_user_name(driver: WebDriver, lab: Lab) -> None:
    sign_in(driver, lab, "vic")
    for page in PAGES:
        driver.get(lab.web.url + page.path.lstrip("/"))
        wait_for(lambda: page.title in driver.title, 15, f"the {page.title} page")
        assert lab.user not in driver.page_source, page.path
        for table in driver.find_elements(By.CSS_SELECTOR, "a.csv"):
            assert lab.user not in csv_as(driver, lab, table.get_attribute("href").split(lab.web.url[:-1], 1)[1])
    nodes = cell_texts(driver, "nodes")
    assert nodes and all(row[1].startswith("user-") for row in nodes)
    sign_out(driver)
