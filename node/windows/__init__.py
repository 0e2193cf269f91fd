"""Windows-only parts of the node, one module per concern; imported only on Windows.

- ``account``: who owns a process (and this one), from its access token.
- ``endsession``: a hidden window that hears the session end (logoff, shutdown).
- ``service``: the SYSTEM node as a Windows service (pywin32).

The decisions they feed are portable and tested on every platform: node.accounts,
node.stopping and node.servicesetup.
"""
