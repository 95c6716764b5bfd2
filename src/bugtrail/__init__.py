"""bugtrail: public SDK surface only. Importing this must not pull in the server (FastAPI, SQLAlchemy)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Client", "__version__", "capture_environment"]

if TYPE_CHECKING:
    from bugtrail.sdk.client import Client
    from bugtrail.sdk.environment import capture_environment


def __getattr__(name: str) -> Any:
    # Lazy so `import bugtrail` stays cheap for the recorder CLI.
    if name == "Client":
        from bugtrail.sdk.client import Client

        return Client
    if name == "capture_environment":
        from bugtrail.sdk.environment import capture_environment

        return capture_environment
    raise AttributeError(name)
