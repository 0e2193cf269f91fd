"""The procmesh node: scans local processes and reports usage sessions to the hub."""
