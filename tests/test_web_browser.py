"""The dashboard in a real browser: a real hub, real nodes, real programs, pages looked at as a person would.

One hub and one browser serve the whole module. Screenshots of every page, at desktop and phone
size, are saved under the module's temporary folder (the path is printed with -s).
"""
from __future__ import annotations

import os
import pwd
import re
import socket
import subprocess
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
from tests.webhub import WebHub, add_account, start_node_on_computer, start_web_hub

pytestmark = pytest.mark.timeout(120)
PASSWORD = "correct horse battery"
SECOND_COMPUTER = "lab-pc02"


class Lab:
    """The module's hub, nodes and programs."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.mesh = Mesh(folder, f"sqlite:///{folder / 'procmesh.db'}")
        self.program = unique_name("pmweb")
        # What the nodes report as the user: the account they run as (as a login script starts them).
        self.user = pwd.getpwuid(os.geteuid()).pw_name
        self.computer = socket.gethostname()
        self.shots = folder / "screenshots"
        self.mesh.watch_file.write_text(f"{self.program}\n")
        (folder / "licenses.txt").write_text(f"{self.program} = 1\n")
        add_account(self.mesh, "ada", "admin", PASSWORD)
        add_account(self.mesh, "vic", "viewer", PASSWORD)
        (folder / "labs.txt").write_text(f"Lab 7 = {self.computer}, {SECOND_COMPUTER}\n")
        self.web: WebHub = start_web_hub(self.mesh)
        self.app: subprocess.Popen | None = None
        self.mesh.start_node(f"{self.computer}/{self.user}")
        self.second = start_node_on_computer(self.mesh, SECOND_COMPUTER)

    def start_program(self) -> None:
        if self.app is None:
            self.app = start_fake_app(self.folder, self.program)

    def stop_program(self) -> None:
        if self.app is not None:
            stop_fake_app(self.app)
            self.app = None

    def close(self) -> None:
        self.stop_program()
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


def open_chart(driver: WebDriver, lab: Lab, path: str, marks: str) -> list:
    """Sign in as the admin, open ``path`` and wait until the chart has drawn ``marks`` (CSS)."""
    lab.start_program()
    sign_in(driver, lab, "ada")
    driver.get(lab.web.url + path)
    return wait_for(lambda: driver.refresh() or driver.find_elements(By.CSS_SELECTOR, f"svg.chart {marks}"),
                    30, f"the chart of {path}")


def names(user: str, text: str) -> bool:
    """Whether ``text`` shows the user name as a word (a short name may be part of another word)."""
    return re.search(rf"(?<![\w-]){re.escape(user)}(?![\w-])", text) is not None


def cell_texts(driver: WebDriver, table: str) -> list[list[str]]:
    rows = driver.find_elements(By.CSS_SELECTOR, f"#table-{table} tbody tr")
    return [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in rows]


def seat_states(driver: WebDriver) -> dict[str, str]:
    return {tile.get_attribute("data-computer"): tile.get_attribute("data-state")
            for tile in driver.find_elements(By.CSS_SELECTOR, ".seat")}


def test_now_page_turns_a_seat_in_use_when_a_program_starts_and_free_when_it_stops(driver: WebDriver,
                                                                                    lab: Lab) -> None:
    sign_in(driver, lab, "ada")
    driver.get(lab.web.url)
    computers = {lab.computer, SECOND_COMPUTER}

    def states_are(state: str) -> bool:
        driver.refresh()
        seats = seat_states(driver)
        return set(seats) == computers and set(seats.values()) == {state}

    wait_for(lambda: states_are("free"), 30, "both seats free")
    assert "Lab 7" in driver.find_element(By.CSS_SELECTOR, ".lab h2").text
    lab.start_program()
    wait_for(lambda: states_are("in use"), 30, "both seats in use")
    tile = driver.find_element(By.CSS_SELECTOR, f'.seat[data-computer="{lab.computer}"]')
    assert lab.program in tile.text
    assert any(row[3] == lab.program for row in cell_texts(driver, "running"))
    screenshots(driver, lab.shots, "now")
    csv = csv_as(driver, lab, "/now.csv?table=running").splitlines()
    assert csv[0] == "lab,computer,user,process,since,seconds"
    assert any(f",{lab.program}," in line for line in csv[1:])
    lab.stop_program()
    wait_for(lambda: states_are("free"), 30, "both seats free again")
    lab.start_program()
    sign_out(driver)


def test_nodes_page_lists_the_node_online(driver: WebDriver, lab: Lab) -> None:
    lab.start_program()
    sign_in(driver, lab, "ada")
    driver.get(lab.web.url + "nodes")
    wait_for(lambda: driver.refresh() or any(lab.user in row and "online" in row
                                             for row in cell_texts(driver, "nodes")),
             30, "the node online on the Nodes page")
    # Both nodes apply the hub's watch list; an older one would say "older".
    assert [row[-1] for row in cell_texts(driver, "nodes")] == ["current", "current"]
    screenshots(driver, lab.shots, "nodes")
    csv = csv_as(driver, lab, "/nodes.csv")
    assert csv.splitlines()[0].startswith("computer,user,node,state,last_seen")
    assert any(lab.user in line and ",online," in line for line in csv.splitlines()[1:])
    sign_out(driver)


def test_a_viewer_never_sees_a_real_user_name(driver: WebDriver, lab: Lab) -> None:
    lab.start_program()
    sign_in(driver, lab, "vic")
    for page in PAGES:
        driver.get(lab.web.url + page.path.lstrip("/"))
        wait_for(lambda: page.title in driver.title, 15, f"the {page.title} page")
        screenshots(driver, lab.shots, f"{page.name}-as-viewer")
        assert not names(lab.user, driver.page_source), page.path
        for table in driver.find_elements(By.CSS_SELECTOR, "a.csv"):
            path = table.get_attribute("href").split(lab.web.url[:-1], 1)[1]
            assert not names(lab.user, csv_as(driver, lab, path)), path
    nodes = cell_texts(driver, "nodes")
    assert nodes and all(row[1].startswith("user-") for row in nodes)
    sign_out(driver)


def test_usage_page_shows_the_program_in_its_chart_table_and_csv(driver: WebDriver, lab: Lab) -> None:
    lab.start_program()
    sign_in(driver, lab, "ada")
    driver.get(lab.web.url + "usage")

    def program_row() -> list[str] | None:
        driver.refresh()
        return next((row for row in cell_texts(driver, "program") if row[0] == lab.program), None)

    row = wait_for(program_row, 30, "the program in the usage table")
    assert row[1] != "" and float(row[2]) > 0   # time and share
    marks = driver.find_elements(By.CSS_SELECTOR, f'svg.chart rect.mark[data-series="{lab.program}"]')
    assert marks, "no bar drawn for the program"
    assert lab.program in marks[0].find_element(By.TAG_NAME, "title").get_attribute("textContent")
    screenshots(driver, lab.shots, "usage")
    csv = csv_as(driver, lab, "/usage.csv?table=program").splitlines()
    assert csv[0] == "program,seconds,share_percent,sessions,first_start,last_end"
    assert any(line.startswith(f"{lab.program},") for line in csv[1:])
    users = csv_as(driver, lab, "/usage.csv?table=user")
    assert lab.user in users   # an admin sees names
    sign_out(driver)


def test_when_page_draws_the_hours_of_use(driver: WebDriver, lab: Lab) -> None:
    cells = open_chart(driver, lab, f"when?program={lab.program}", "rect.cell")
    assert len(cells) == 7 * 24
    assert any(float(cell.get_attribute("fill-opacity")) > 0.5 for cell in cells)
    screenshots(driver, lab.shots, "when")
    csv = csv_as(driver, lab, f"/when.csv?program={lab.program}").splitlines()
    assert csv[0].startswith("weekday,h00,h01") and len(csv) == 8
    sign_out(driver)


def test_peaks_page_draws_the_peak_against_the_licences(driver: WebDriver, lab: Lab) -> None:
    open_chart(driver, lab, f"peaks?program={lab.program}", "rect.mark")
    rows = cell_texts(driver, "peaks")
    assert rows and rows[-1][1] == lab.program and int(rows[-1][2]) >= 1
    assert rows[-1][5] == "1"   # licenses.txt owns 1
    assert driver.find_elements(By.CSS_SELECTOR, "svg.chart line.limit")
    screenshots(driver, lab.shots, "peaks")
    csv = csv_as(driver, lab, f"/peaks.csv?program={lab.program}").splitlines()
    assert csv[0] == "period,process,peak,at,seconds_at_peak,licenses,seconds_over_licenses"
    assert len(csv) >= 2
    sign_out(driver)


def test_signed_out_every_page_shows_the_login_and_a_form_without_its_token_is_refused(
        driver: WebDriver, lab: Lab) -> None:
    driver.delete_all_cookies()
    for page in PAGES:
        driver.get(lab.web.url + page.path.lstrip("/"))
        assert driver.find_elements(By.NAME, "password"), page.path
        assert httpx.get(lab.web.url + page.csv_path.lstrip("/"), timeout=30).status_code == 401
    screenshots(driver, lab.shots, "login")
    driver.get(lab.web.url + "login")
    driver.execute_script('document.querySelector("input[name=csrf]").remove()')
    driver.find_element(By.NAME, "name").send_keys("ada")
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form.login button").click()
    wait_for(lambda: "not sent by this site" in driver.page_source, 15, "the refusal")
    driver.get(lab.web.url + "nodes")
    assert driver.find_elements(By.NAME, "password")   # still signed out
