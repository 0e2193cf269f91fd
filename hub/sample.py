"""The commented sample watch list the hub writes when the watch file does not exist yet.

It is the same text as config/monitorProcesses.txt (a test keeps the two equal).
"""
from __future__ import annotations

SAMPLE_WATCHLIST = """\
# procmesh watch list: the programs whose use is recorded. One entry a line.
#   name                    label "name" for the program "name"
#   label = pattern, ...    one label for several programs
# A pattern is a program name (any case, ".exe" optional), a glob (* ? [..]),
# re:REGEX (must match the whole name, any case) or cmd:GLOB (the command line).
# Blank lines and lines starting with # are ignored. Saved changes reach all nodes.
chrome.exe
msedge.exe
firefox
Office = winword, excel, powerpnt
vscode = code
python = python, python3
Adobe = acrobat*, photoshop*
jetbrains = re:(idea|pycharm|clion)(64)?([.]exe)?
# cmd: patterns make every node read command lines, which costs more:
# jupyter = cmd:*jupyter-lab*
"""
