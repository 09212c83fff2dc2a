"""Encryption of stored AccessKey secrets.

HMAC verification needs each secret in plain form, so secrets cannot be hashed like
passwords; they are stored encrypted (Fernet: AES-128-CBC + HMAC-SHA256) with a key from
``PIGEON_SECRET_KEY`` or, on the embedded default, a key generated once into the data
directory with owner-only permissions.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from pigeon.config import Secret, Settings, SettingsError

KEY_FILE = "secret.key"


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def load_or_create_key(settings: Settings) -> Secret:
    if settings.secret_key is not None:
        return settings.secret_key
    path = Path(settings.data_dir) / KEY_FILE
    if path.exists():
        return Secret(path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    # O_EXCL: two processes starting at once must not write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return Secret(path.read_text().strip())
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return Secret(key)


class SecretBox:
    def __init__(self, key: Secret) -> None:
        try:
            self._fernet = Fernet(key.reveal().encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise SettingsError(
                "PIGEON_SECRET_KEY=********: expected 32 bytes in urlsafe base64 "
                "(make one with `pigeon keygen`)") from None

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise RuntimeError(
                "a stored AccessKey secret cannot be decrypted: PIGEON_SECRET_KEY (or "
                "data/secret.key) is not the key the secret was stored with") from None
