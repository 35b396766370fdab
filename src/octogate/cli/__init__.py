"""`octogate`: run the gateway, and the operator's commands.

Each module here parses one family of commands, calls the service layer (`octogate.operations`, or the server
for `serve`) and prints; `main` wires them. Dependencies go one way: main -> commands -> common.
"""

from octogate.cli.common import CommandError
from octogate.cli.main import main

__all__ = ["CommandError", "main"]
