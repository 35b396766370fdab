"""`python -m octogate.cli ...`, the same as the `octogate` command."""

from octogate.cli.main import main

main()
