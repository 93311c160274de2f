"""Commands that other installed packages add to ``fedops`` (entry-point group ``fedops.cli``).

The SDK never imports the services. ``fedops up`` is declared in this group by the
fedops-services distribution (services/pyproject.toml) and found here when the CLI starts.
On a machine without it (an edge install, ``pip install "fedops[client]"``) ``fedops up``
is still listed, and running it says which package to install.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

import typer

from fedops.cli.output import fail

__all__ = ["EXPECTED_PLUGINS", "PLUGIN_GROUP", "ExpectedPlugin", "add_plugin_commands"]

PLUGIN_GROUP = "fedops.cli"

# Unknown arguments go to the explanation, not to a "no such option" error.
_ACCEPT_ANY_ARGUMENTS = {"allow_extra_args": True, "ignore_unknown_options": True}


@dataclass(frozen=True)
class ExpectedPlugin:
    """A command `fedops --help` lists even when the package that provides it is missing."""

    distribution: str
    summary: str


EXPECTED_PLUGINS = {
    "up": ExpectedPlugin("fedops-services", "Run the fedops services (registry and monitoring) here"),
}


def add_plugin_commands(app: typer.Typer) -> None:
    """Add every installed ``fedops.cli`` entry point as a command (a function) or a group of
    commands (a ``typer.Typer``), and a stand-in for each expected one that is missing."""
    found: dict[str, EntryPoint] = {entry.name: entry for entry in entry_points(group=PLUGIN_GROUP)}
    built_in = {group.name for group in app.registered_groups} | {
        # typer names a command after its function when no name was given
        command.name or (command.callback.__name__.replace("_", "-") if command.callback else None)
        for command in app.registered_commands
    }
    for name, entry in sorted(found.items()):
        if name in built_in:  # a plugin adds commands; it never replaces `fedops task` & co.
            continue
        try:
            command = entry.load()
        except Exception as exc:  # a broken plugin must not take `fedops task` down with it
            _add_unavailable(
                app, name, f"`fedops {name}` ({entry.value}) failed to load: {type(exc).__name__}: {exc}"
            )
            continue
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=name)
        elif callable(command):
            app.command(name)(command)
        else:
            _add_unavailable(app, name, f"`fedops {name}` ({entry.value}) is not a command")
    for name, expected in EXPECTED_PLUGINS.items():
        if name not in found:
            _add_unavailable(
                app,
                name,
                f"`fedops {name}` comes with the {expected.distribution} package, which is not "
                f"installed here: pip install {expected.distribution}",
                summary=f"{expected.summary} (not installed: pip install {expected.distribution})",
            )


def _add_unavailable(app: typer.Typer, name: str, message: str, *, summary: str | None = None) -> None:
    def unavailable() -> None:
        raise fail(message)

    app.command(name, help=message, short_help=summary, context_settings=_ACCEPT_ANY_ARGUMENTS)(unavailable)
