"""The SYSTEM node as a Windows service, with pywin32's service framework. Windows only.

``procmesh-node service install [NODE-ARGUMENTS]`` (as administrator) registers it to start at
boot as LocalSystem, with recovery actions (restart after a failure) and a pre-shutdown timeout;
``service remove`` unregisters it. The service manager runs ``python.exe -m node.windows.service``,
which hosts the service in that process. The node runs in the service's thread; the control
handler (stop, and PRESHUTDOWN, which comes before the network goes down at shutdown) asks it to
stop through node.stopping.StopRelay and waits for its final report.
"""
from __future__ import annotations

import sys
from typing import Any, Sequence

import platformdirs
import servicemanager
import win32service
import win32serviceutil

from common.settings import SettingsError
from node.servicesetup import (FAILURE_RESET_SECONDS, RESTART_DELAYS_MS, SERVICE_NAME, STOP_WAIT_SECONDS,
                               check_node_arguments, service_arguments, service_node_arguments,
                               service_python)
from node.stopping import StopRelay


class NodeService(win32serviceutil.ServiceFramework):
    _svc_name_ = SERVICE_NAME
    _svc_display_name_ = "procmesh node"
    _svc_description_ = ("Reports which watched programs run on this computer, for every user, to "
                         "the procmesh hub")

    def __init__(self, args: Any) -> None:
        super().__init__(args)
        self._relay = StopRelay()

    def GetAcceptedControls(self) -> int:
        return super().GetAcceptedControls() | win32service.SERVICE_ACCEPT_PRESHUTDOWN

    def SvcStop(self) -> None:
        self._stop("the service is asked to stop")

    def SvcOtherEx(self, control: int, event_type: int, data: Any) -> None:
        if control == win32service.SERVICE_CONTROL_PRESHUTDOWN:
            self._stop("Windows is shutting down")

    def _stop(self, reason: str) -> None:
        self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING, waitHint=int(STOP_WAIT_SECONDS * 1000))
        self._relay.stop_and_wait(reason, STOP_WAIT_SECONDS)

    def SvcDoRun(self) -> None:
        from node.cli import main
        log_folder = platformdirs.site_config_dir("procmesh", appauthor=False)
        code = main(service_node_arguments(sys.argv[1:], log_folder), relay=self._relay)
        if code != 0 and not self._relay.stop_requested:
            # An exception makes the framework report a failure, which the recovery actions answer.
            servicemanager.LogErrorMsg(f"procmesh node stopped with exit code {code}; see {log_folder}")
            raise RuntimeError(f"procmesh node stopped with exit code {code}")


def command(args: Sequence[str]) -> int:
    """``procmesh-node service install [NODE-ARGUMENTS]`` or ``procmesh-node service remove``."""
    action, node_args = (args[0] if args else ""), list(args[1:])
    if action == "install":
        install(node_args)
        print(f"service {SERVICE_NAME} installed; it starts at the next boot, or now with: "
              f"sc start {SERVICE_NAME}")
    elif action == "remove" and not node_args:
        win32serviceutil.RemoveService(SERVICE_NAME)
        print(f"service {SERVICE_NAME} removed")
    else:
        raise SettingsError("usage: procmesh-node service install [NODE-ARGUMENTS] | service remove")
    return 0


def install(node_args: list[str]) -> None:
    check_node_arguments(node_args)
    python = service_python(sys.executable, sys.prefix, sys.base_prefix)
    win32serviceutil.InstallService(
        None, SERVICE_NAME, NodeService._svc_display_name_,
        startType=win32service.SERVICE_AUTO_START, exeName=python,
        exeArgs=service_arguments(node_args), description=NodeService._svc_description_)
    manager = win32service.OpenSCManager(None, None, win32service.SC_MANAGER_ALL_ACCESS)
    try:
        service = win32service.OpenService(manager, SERVICE_NAME, win32service.SERVICE_ALL_ACCESS)
        try:
            win32service.ChangeServiceConfig2(service, win32service.SERVICE_CONFIG_FAILURE_ACTIONS, {
                "ResetPeriod": FAILURE_RESET_SECONDS, "RebootMsg": "", "Command": "",
                "Actions": [(win32service.SC_ACTION_RESTART, delay) for delay in RESTART_DELAYS_MS]})
            # Failure actions also when the node exits with an error, not only when it crashes.
            win32service.ChangeServiceConfig2(service, win32service.SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, True)
            win32service.ChangeServiceConfig2(service, win32service.SERVICE_CONFIG_PRESHUTDOWN_INFO,
                                              int(STOP_WAIT_SECONDS * 1000) + 5000)
        finally:
            win32service.CloseServiceHandle(service)
    finally:
        win32service.CloseServiceHandle(manager)


if __name__ == "__main__":
    # Started by the service manager: host the service in this python.exe.
    servicemanager.Initialize()
    servicemanager.PrepareToHostSingle(NodeService)
    servicemanager.StartServiceCtrlDispatcher()
