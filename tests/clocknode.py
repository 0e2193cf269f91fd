"""A real node process on a clock a test steers: the node's own entry point, given that clock.

    python -m tests.clocknode [--shift SECONDS] [--asleep-file FILE] -- [procmesh-node options...]

``--shift`` runs the node's wall clock that far ahead (negative: behind); writing a number of
seconds into ``--asleep-file`` makes the node see that much more time asleep, as after a suspend.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from node.cli import main as node_main
from tests.clocks import SteeredClock


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    split = args.index("--") if "--" in args else len(args)
    parser = argparse.ArgumentParser(prog="python -m tests.clocknode")
    parser.add_argument("--shift", type=float, default=0.0)
    parser.add_argument("--asleep-file", type=Path)
    own = parser.parse_args(args[:split])
    return node_main(args[split + 1:], clock=SteeredClock(own.shift, own.asleep_file))


if __name__ == "__main__":
    sys.exit(main())
