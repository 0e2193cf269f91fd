from __future__ import annotations

from pathlib import Path

import pytest

from common.watchlist import (MEMO_LIMIT, Matcher, WatchEntry, WatchListError, load_watchlist,
                              parse_watchlist)


def matcher_for(text: str) -> Matcher:
    return Matcher(parse_watchlist(text))


# --- parsing -------------------------------------------------------------------------------

def test_file_from_the_original_project_works_unchanged() -> None:
    text = "chrome.exe\nnotepad.exe\nWINWORD.EXE\n"
    assert parse_watchlist(text) == [
        WatchEntry("chrome.exe", ("chrome.exe",)),
        WatchEntry("notepad.exe", ("notepad.exe",)),
        WatchEntry("WINWORD.EXE", ("WINWORD.EXE",)),
    ]


@pytest.mark.parametrize("line, entry", [
    ("chrome", WatchEntry("chrome", ("chrome",))),
    ("  chrome  \t", WatchEntry("chrome", ("chrome",))),
    ("Office = winword, excel", WatchEntry("Office", ("winword", "excel"))),
    ("Office=winword,excel", WatchEntry("Office", ("winword", "excel"))),
    ("Visual Studio Code = code, Code.exe", WatchEntry("Visual Studio Code", ("code", "Code.exe"))),
    ("Browsers = chrom*, re:firefox(-esr)?", WatchEntry("Browsers", ("chrom*", "re:firefox(-esr)?"))),
    ("Renderer = cmd:*--type=renderer*", WatchEntry("Renderer", ("cmd:*--type=renderer*",))),
    ("note*", WatchEntry("note*", ("note*",))),
    ("re:py(thon)?3?", WatchEntry("re:py(thon)?3?", ("re:py(thon)?3?",))),
])
def test_each_line_form(line: str, entry: WatchEntry) -> None:
    assert parse_watchlist(line) == [entry]


def test_blank_lines_and_comments_are_ignored() -> None:
    text = "# lab software\n\n   \nchrome\n    # indented comment\nexcel\n"
    assert [entry.label for entry in parse_watchlist(text)] == ["chrome", "excel"]


def test_bom_and_crlf_are_tolerated() -> None:
    text = "\ufeffchrome.exe\r\n\r\nOffice = winword ,excel\r\n"
    assert parse_watchlist(text) == [
        WatchEntry("chrome.exe", ("chrome.exe",)),
        WatchEntry("Office", ("winword", "excel")),
    ]


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing watched yet\n", "\ufeff# only a comment\r\n"])
def test_empty_watch_list_is_valid(text: str) -> None:
    assert parse_watchlist(text) == []


def test_label_of_the_maximum_length_is_accepted() -> None:
    assert parse_watchlist("x" * 255 + " = chrome")[0].label == "x" * 255


@pytest.mark.parametrize("text, line, why", [
    ("chrome\nBroken = re:(unclosed\n", 2,
     "bad regular expression '(unclosed': missing ), unterminated subpattern at position 0"),
    ("= chrome", 1, "empty label before '='"),
    ("# office\n\nOffice =\n", 3, "label 'Office' has no patterns after '='"),
    ("Office = winword,,excel", 1, "empty pattern in label 'Office'"),
    ("Office = winword,", 1, "empty pattern in label 'Office'"),
    ("chrome\nPython = re:", 2, "nothing after 're:'"),
    ("Renderer = cmd:   ", 1, "nothing after 'cmd:'"),
    ("chrome\n\nre:\n", 3, "nothing after 're:'"),
    ("x" * 256 + " = chrome", 1, "label is 256 characters long, the limit is 255"),
    ("y" * 300, 1, "label is 300 characters long, the limit is 255"),
    ("chrome\nfirefox\nchrome\n", 3, "label 'chrome' is already defined on line 1"),
    ("Browsers = chrome\nbrowsers = firefox\n", 2, "label 'browsers' is already defined on line 1"),
    ("\ufeff# lab\r\nchrome\r\n= excel\r\n", 3, "empty label before '='"),
])
def test_errors_name_the_line_and_the_reason(text: str, line: int, why: str) -> None:
    with pytest.raises(WatchListError) as caught:
        parse_watchlist(text)
    assert caught.value.line == line
    assert str(caught.value) == f"line {line}: {why}"


def test_an_error_anywhere_rejects_the_whole_file() -> None:
    with pytest.raises(WatchListError):
        parse_watchlist("chrome\nexcel\nBad = re:[\nfirefox\n")


# --- loading files ---------------------------------------------------------------------------

def test_load_reads_utf8_with_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "monitorProcesses.txt"
    path.write_bytes("\ufeffchrome.exe\r\nÉditeur = gedit\r\n".encode("utf-8"))
    assert load_watchlist(path) == [
        WatchEntry("chrome.exe", ("chrome.exe",)),
        WatchEntry("Éditeur", ("gedit",)),
    ]


def test_load_accepts_a_str_path(tmp_path: Path) -> None:
    path = tmp_path / "monitorProcesses.txt"
    path.write_text("chrome.exe\n", encoding="utf-8")
    assert load_watchlist(str(path)) == [WatchEntry("chrome.exe", ("chrome.exe",))]


def test_load_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "absent.txt"
    with pytest.raises(WatchListError) as caught:
        load_watchlist(path)
    assert caught.value.line is None
    assert str(path) in str(caught.value)
    assert "No such file" in str(caught.value)


def test_load_directory_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(WatchListError) as caught:
        load_watchlist(tmp_path)
    assert str(tmp_path) in str(caught.value)


def test_load_rejects_text_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "monitorProcesses.txt"
    path.write_bytes("chrome.exe\nÉditeur\n".encode("latin-1"))
    with pytest.raises(WatchListError) as caught:
        load_watchlist(path)
    assert caught.value.line is None
    assert str(caught.value) == f"watch list {path} is not UTF-8 text (invalid byte on line 2)"


def test_load_reports_line_errors_of_the_content(tmp_path: Path) -> None:
    path = tmp_path / "monitorProcesses.txt"
    path.write_text("chrome\nOffice =\n", encoding="utf-8")
    with pytest.raises(WatchListError, match=r"^line 2: "):
        load_watchlist(path)


# --- matching process names ------------------------------------------------------------------

@pytest.mark.parametrize("pattern, name, matches", [
    # plain names: case-insensitive, a trailing .exe ignored on both sides
    ("chrome", "chrome", True),
    ("chrome", "chrome.exe", True),
    ("chrome", "CHROME.EXE", True),
    ("Chrome", "chrome", True),
    ("chrome.exe", "chrome", True),
    ("chrome.exe", "Chrome.Exe", True),
    ("CHROME.EXE", "chrome.exe", True),
    ("chrome", "chromium", False),
    ("chrome", "chrome.exe.bak", False),
    ("chrome", "google-chrome", False),
    # globs: case-insensitive, same .exe leniency
    ("note*", "notepad.exe", True),
    ("note*", "Notepad++.exe", True),
    ("note*.exe", "notepad", True),
    ("note*.exe", "NOTEPAD.EXE", True),
    ("note*", "keynote", False),
    ("?ash", "bash", True),
    ("?ash", "dash.exe", True),
    ("?ash", "ash", False),
    ("[bz]sh", "ZSH", True),
    ("[bz]sh", "csh", False),
    # re: full match, case-insensitive, no .exe leniency
    ("re:chrom(e|ium)", "chromium", True),
    ("re:chrom(e|ium)", "CHROME", True),
    ("re:chrom(e|ium)", "chromebook", False),
    ("re:chrom(e|ium)", "google-chrome", False),
    ("re:chrom(e|ium)", "chrome.exe", False),
    ("re:chrome(\\.exe)?", "Chrome.EXE", True),
    ("re: python3?", "python", True),
    # cmd: patterns never look at the process name
    ("cmd:chrome", "chrome", False),
])
def test_name_patterns(pattern: str, name: str, matches: bool) -> None:
    matcher = matcher_for(f"App = {pattern}")
    assert matcher.match_name(name) == (frozenset({"App"}) if matches else frozenset())


def test_bare_line_label_is_the_line_as_written() -> None:
    matcher = matcher_for("chrome.exe\nnotepad.exe\n")
    assert matcher.match_name("chrome") == {"chrome.exe"}
    assert matcher.match_name("NOTEPAD.EXE") == {"notepad.exe"}
    assert matcher.match_name("firefox") == frozenset()


def test_one_label_with_several_patterns() -> None:
    matcher = matcher_for("Office = winword, excel, re:powerpnt|onenote")
    for name in ("WINWORD.EXE", "excel", "POWERPNT", "onenote"):
        assert matcher.match_name(name) == {"Office"}
    assert matcher.match_name("outlook.exe") == frozenset()


def test_a_name_matching_several_labels_gets_all_of_them() -> None:
    matcher = matcher_for("chrome\nBrowsers = firefox, chrome.exe\nGoogle = re:chrome.*\nAny C = c*\n")
    assert matcher.match_name("chrome.exe") == {"chrome", "Browsers", "Google", "Any C"}
    assert matcher.match_name("firefox") == {"Browsers"}


def test_empty_watch_list_matches_nothing() -> None:
    matcher = Matcher([])
    assert matcher.match_name("chrome") == frozenset()
    assert matcher.match_cmdline(["chrome", "--incognito"]) == frozenset()
    assert matcher.has_cmd_patterns is False


def test_matcher_rejects_entries_it_cannot_compile() -> None:
    with pytest.raises(WatchListError, match=r"^bad regular expression '\[': "):
        Matcher([WatchEntry("Bad", ("re:[",))])


# --- the memo ------------------------------------------------------------------------------------

def test_memo_answers_repeated_names_with_the_same_result() -> None:
    matcher = matcher_for("Editors = note*, re:gedit\nchrome\n")
    first = matcher.match_name("notepad.exe")
    assert first == {"Editors"}
    assert matcher.match_name("notepad.exe") is first
    assert matcher.match_name("chrome") == matcher.match_name("chrome") == {"chrome"}


def test_memo_is_bounded_and_answers_stay_right_after_it_is_cleared() -> None:
    matcher = matcher_for("Editors = note*\nchrome\n")
    first = matcher.match_name("notepad.exe")
    for number in range(MEMO_LIMIT + 1):
        assert matcher.match_name(f"worker-{number}") == frozenset()
    again = matcher.match_name("notepad.exe")
    # A fresh object shows the remembered answer was dropped and worked out again.
    assert again is not first
    assert again == first == {"Editors"}
    assert matcher.match_name("chrome.exe") == {"chrome"}
    assert matcher.match_name("worker-0") == frozenset()


# --- command lines -------------------------------------------------------------------------------

@pytest.mark.parametrize("pattern, cmdline, matches", [
    ("cmd:*--type=renderer*", ["/opt/google/chrome/chrome", "--type=renderer", "--lang=en"], True),
    ("cmd:*--TYPE=RENDERER*", ["chrome.exe", "--type=renderer"], True),
    ("cmd:*--type=renderer*", ["chrome.exe", "--type=gpu-process"], False),
    ("cmd:python* *.py", ["python3", "grader.py"], True),
    ("cmd:python* *.py", ["python3", "-m", "http.server"], False),
    ("cmd:java -jar *minecraft*", ["java", "-jar", "Minecraft.jar"], True),
    ("cmd:java -jar *minecraft*", ["java", "-Xmx2G", "-jar", "minecraft.jar"], False),
    ("cmd:*", [], False),
])
def test_cmdline_patterns(pattern: str, cmdline: list[str], matches: bool) -> None:
    matcher = matcher_for(f"App = {pattern}")
    assert matcher.match_cmdline(cmdline) == (frozenset({"App"}) if matches else frozenset())


def test_cmdline_and_name_patterns_of_one_label_are_asked_separately() -> None:
    matcher = matcher_for("Chrome tabs = chrome, cmd:*--type=renderer*\nJupyter = cmd:*jupyter-lab*\n")
    assert matcher.has_cmd_patterns is True
    assert matcher.match_name("chrome") == {"Chrome tabs"}
    assert matcher.match_cmdline(["chrome", "--type=renderer"]) == {"Chrome tabs"}
    assert matcher.match_cmdline(["python3", "/usr/bin/jupyter-lab", "--no-browser"]) == {"Jupyter"}
    assert matcher.match_cmdline(["chrome"]) == frozenset()


def test_has_cmd_patterns_is_false_without_cmd_patterns() -> None:
    assert matcher_for("chrome\nOffice = winword, re:excel\nnote*\n").has_cmd_patterns is False


def test_the_readme_example_parses_into_the_labels_it_describes() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The watch list", 1)[1]
    example = section.split("```", 2)[1]
    labels = [entry.label for entry in parse_watchlist(example)]
    assert labels == ["chrome.exe", "Office", "Adobe", "jetbrains", "jupyter"]


def test_cmd_with_a_program_name_reads_only_that_programs_command_lines() -> None:
    matcher = matcher_for("Jupyter = cmd(python*):*jupyter-lab*\n")
    assert matcher.reads_every_cmdline is False
    assert matcher.needs_cmdline("python3.11") and matcher.needs_cmdline("python.exe")
    assert not matcher.needs_cmdline("chrome.exe")
    cmdline = ["python", "-m", "jupyter-lab"]
    assert matcher.match_cmdline(cmdline, "python.exe") == {"Jupyter"}
    assert matcher.match_cmdline(cmdline, "node.exe") == frozenset()


def test_cmd_without_a_program_name_reads_every_command_line() -> None:
    matcher = matcher_for("Jupyter = cmd:*jupyter-lab*\n")
    assert matcher.reads_every_cmdline and matcher.needs_cmdline("chrome.exe")


@pytest.mark.parametrize("pattern", ["cmd(python*)*jupyter*", "cmd():*jupyter*", "cmd(python):"])
def test_a_cmd_with_program_name_that_does_not_parse_says_how_to_write_it(pattern: str) -> None:
    with pytest.raises(WatchListError, match=r"line 1: .*write cmd\(PROGRAM\):GLOB"):
        parse_watchlist(f"x = {pattern}\n")
