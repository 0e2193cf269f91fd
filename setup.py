"""procmesh: which programs run on which lab computers, for whom, and for how long."""
from __future__ import annotations

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "common" / "__init__.py").read_text()).group(1)

setup(
    name="procmesh",
    version=VERSION,
    description="Records which programs run on which computers, for whom and for how long",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    # Every package below the three top-level ones, so a new subpackage needs no edit here.
    packages=find_packages(include=["common", "common.*", "hub", "hub.*", "node", "node.*"]),
    package_data={"hub.web": ["templates/*.html", "static/*"]},
    install_requires=[
        "pyzmq>=25",
        "psutil>=5.9",
        "PyMySQL>=1.1",
        "msgpack>=1.0",
        "watchdog>=3.0",
        "filelock>=3.12",
        "platformdirs>=3.0",
        "tzlocal>=4.0",
        'tomli>=2.0; python_version < "3.11"',
        "starlette>=0.37",
        "uvicorn>=0.29",
        "jinja2>=3.1",
        "python-multipart>=0.0.9",
        "itsdangerous>=2.1",
        "argon2-cffi>=23.1",
        "prometheus-client>=0.20",
        # The Windows service and the process-token reading (node/windows/).
        'pywin32>=306; sys_platform == "win32"',
        # Active and foreground time on Linux desktops: X11, and Wayland desktops over D-Bus.
        'python-xlib>=0.33; sys_platform == "linux"',
        'jeepney>=0.8; sys_platform == "linux"',
    ],
    extras_require={
        # mypy with the pywin32 stubs checks the Windows-only modules on any system.
        # pytest-xdist: the suite runs on two worker processes (README, Set up).
        "test": ["pytest>=7", "pytest-timeout>=2.1", "pytest-xdist>=3.5", "hypothesis>=6", "mypy>=1.8",
                 "types-pywin32", "httpx>=0.27", "selenium>=4.20"],
    },
    entry_points={
        "console_scripts": [
            "procmesh-hub = hub.cli:main",
            "procmesh-node = node.cli:main",
        ],
        # pip makes procmesh-nodew.exe on Windows: the node without a console window, for logon
        # scripts and Task Scheduler (no pythonw.exe on PATH needed).
        "gui_scripts": [
            "procmesh-nodew = node.cli:main",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Operating System :: Microsoft :: Windows",
        "Operating System :: POSIX :: Linux",
        "Operating System :: MacOS",
        "Topic :: System :: Monitoring",
    ],
)
