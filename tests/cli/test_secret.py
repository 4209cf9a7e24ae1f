"""``thunderid-mw secret`` prints a secret the configuration accepts."""

from __future__ import annotations

import subprocess
import sys

from thunderid_mw.core.config import MIN_SECRET_LENGTH, secret_weakness


def test_secret_prints_a_new_strong_secret_each_time() -> None:
    def run() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "thunderid_mw.cli", "secret"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return done.stdout.strip()

    first, second = run(), run()
    assert first != second
    for secret in (first, second):
        assert len(secret) >= MIN_SECRET_LENGTH and secret_weakness(secret) is None
        assert secret.replace("-", "").replace("_", "").isalnum()


def test_no_command_is_a_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "thunderid_mw.cli"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "usage: thunderid-mw" in done.stderr
