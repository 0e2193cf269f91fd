@echo off
rem procmesh node logon script for Group Policy: User Configuration > Policies >
rem Windows Settings > Scripts (Logon/Logoff) > Logon.
rem Replace HUB_HOST below with the hub's name or address (e.g. lab-server.example),
rem or delete "--hub %HUB%" to take the hub from C:\ProgramData\procmesh\node.toml.
rem Running it at every logon is safe: a second node of the same user exits by itself.
setlocal

rem pythonw.exe runs Python without a console window. Give its full path when it is
rem not on PATH, e.g. C:\Program Files\Python312\pythonw.exe
set "PYTHONW=pythonw.exe"
set "HUB=HUB_HOST"
rem pythonw has no console to write to, so the node logs to a file per user.
set "LOGDIR=%LOCALAPPDATA%\procmesh"

if not exist "%LOGDIR%" mkdir "%LOGDIR%"
start "" /b "%PYTHONW%" -m node --hub %HUB% --log-file "%LOGDIR%\node.log"
