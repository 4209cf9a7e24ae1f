"""Django configures its settings once per process. The only in-process Django project is
examples/django_app.py: tests that run Django in-process import it through here (once)
and vary what they need with ``override_settings``."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from types import ModuleType
from unittest import mock


def django_example(environ: Mapping[str, str]) -> ModuleType:
    """examples/django_app.py, imported with ``environ`` (its ``THUNDERID_*`` settings,
    read while its WSGI and ASGI handlers load) on the first call."""
    with mock.patch.dict(os.environ, environ):
        return importlib.import_module("examples.django_app")
