"""A password hasher that counts how often it hashes, for the timing tests."""

from typing import Any, ClassVar

from django.contrib.auth.hashers import MD5PasswordHasher


class CountingPasswordHasher(MD5PasswordHasher):
    """MD5 (fast), counting every hash computed: to check a password too."""

    calls: ClassVar[int] = 0

    def encode(self, password: str, salt: str, *args: Any, **kwargs: Any) -> str:
        type(self).calls += 1
        return super().encode(password, salt, *args, **kwargs)
