@echo off
rem procmesh node logon script for Group Policy: User Configuration > Policies >
rem Windows Settings > Scripts (Logon/Logoff) > Logon. Task Scheduler can run it too,
rem but procmesh-node-task.xml beside it starts the node without any script.
rem Replace HUB_HOST below with the hub's name or address (e.g. lab-server.example),
rem or delete "--hub %HUB%" to take the hub from C:\ProgramData\procmesh\node.toml.
rem Running it at every logon is safe: a second node of the same user exits by itself.
setlocal

rem Where Python is installed for all users; procmesh-nodew.exe is the node without a
rem console window, made by "pip install" in that Python's Scripts folder. Absolute
rem paths: the python.org installer does not put Python on PATH by default.
set "PYTHONDIR=C:\Program Files\Python312"
set "NODEW=%PYTHONDIR%\Scripts\procmesh-nodew.exe"
set "HUB=HUB_HOST"
rem The node logs here by itself; this script writes here only when it cannot start it.
set "LOGDIR=%LOCALAPPDATA%\procmesh"

rem Every expansion inside ( ) stays in quotes: a ")" in a path would end the block.
if not exist "%PYTHONDIR%\pythonw.exe" (
  call :fail "no Python at %PYTHONDIR%"
  exit /b 1
)
if not exist "%NODEW%" (
  call :fail "procmesh is not installed in %PYTHONDIR% (%NODEW% is missing)"
  exit /b 1
)
start "" "%NODEW%" --hub %HUB%
exit /b 0

:fail
if not exist "%LOGDIR%" mkdir "%LOGDIR%"
>>"%LOGDIR%\node.log" echo %DATE% %TIME% ERROR procmesh-node.cmd: %~1: install Python for all users and procmesh (docs/deploy.md), or correct PYTHONDIR in %~f0
exit /b 1
