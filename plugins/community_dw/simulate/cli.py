"""`cdw simulate` subcommands."""

from __future__ import annotations

import typer

simulate_app = typer.Typer(help="Simulate the four departments' deliveries, with ground truth.", no_args_is_help=True)
