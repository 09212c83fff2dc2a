"""A real SMTP server on an ephemeral loopback port (aiosmtpd, in its own thread) that keeps
every message it receives; optionally it offers AUTH LOGIN/PLAIN for one user."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return self.message["Subject"]

    @property
    def body(self) -> str:
        return self.message.get_content()


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, _server, _session, envelope):  # noqa: N802 - aiosmtpd's name
        self.server.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos),
                                      message_from_bytes(envelope.original_content,
                                                         policy=policy.default)))
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, *, user: str | None = None, password: str | None = None) -> None:
        self.mails: list[Mail] = []
        self.logins: list[str] = []
        self.user, self.password = user, password
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        options = {}
        if user is not None:
            # AUTH offered without TLS (a loopback test server); a client that does not log
            # in is still served, and ``logins`` tells whether it did.
            options = {"authenticator": self._authenticate, "auth_require_tls": False}
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                     **options)

    def _authenticate(self, _server, _session, _envelope, _mechanism, data) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login.decode() == self.user \
            and data.password.decode() == self.password
        if ok:
            self.logins.append(self.user)
        return AuthResult(success=ok)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
