"""The web console: server-rendered pages for tenants (``/console``) and the operator
console (``/ops``), on the same services as the API.  See docs/console.md."""

from pigeon.console.routes import create_console

__all__ = ["create_console"]
