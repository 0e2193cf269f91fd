"""The procmesh hub: publishes the watch list, receives reports, stores sessions."""
