"""``thunderid-mw doctor``: the app's configuration checked against the live provider and
store, one line per check (``ok``/``warn``/``FAIL``, what is wrong, how to fix it); the
exit code is 1 when a check failed.

It reads the configuration the app reads: ``THUNDERID_*`` variables, or ``--config
module:attribute`` naming a ``ThunderIDConfig`` (or a callable returning one)."""

from __future__ import annotations

import argparse
import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from .._client_base import open_store
from .._http import client_options, describe_failure, is_tls_error
from ..client_assertion import assertion_signer
from ..core.config import ThunderIDConfig
from ..core.crypto import Keys
from ..core.discovery import ProviderMetadata
from ..core.env import FlowEnv
from ..core.errors import ConfigError, IDTokenError, ProviderError, StoreUnavailable
from ..core.id_token import load_key_set
from ..core.par import par_unavailable, pushes
from ..core.records import RecordCodec
from ..stores.check import check_store

if TYPE_CHECKING:  # redis is an optional extra: imported only by stores that use it
    from ..stores.redis import RedisPersistence

OK, WARN, FAIL = "ok", "warn", "FAIL"
MAX_CLOCK_SKEW = 30.0  # seconds; ID token checks allow config.clock_skew


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str
    detail: str

    def line(self) -> str:
        return f"{self.status:<4} {self.name}: {self.detail}"


def add_doctor_command(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "doctor",
        help="check the configuration against the live provider and store",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        metavar="MODULE:ATTR",
        help="a ThunderIDConfig (or a callable returning one) instead of THUNDERID_*",
    )
    parser.set_defaults(run=_run)


def load_config(spec: str | None) -> ThunderIDConfig:
    if spec is None:
        return ThunderIDConfig.from_env()
    module_name, _, attribute = spec.partition(":")
    value: Any = getattr(importlib.import_module(module_name), attribute or "config")
    if callable(value) and not isinstance(value, ThunderIDConfig):
        value = value()
    if not isinstance(value, ThunderIDConfig):
        raise ConfigError(f"{spec} is not a ThunderIDConfig")
    return value


def _run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(Check("configuration", FAIL, str(exc)).line())
        return 1
    results = run_checks(config)
    for result in results:
        print(result.line())
    failed = [r for r in results if r.status == FAIL]
    print(f"{len(results)} checks, {len(failed)} failed")
    return 1 if failed else 0


def run_checks(config: ThunderIDConfig) -> list[Check]:
    results = [Check("configuration", OK, "loaded; secret strong enough, numbers in range")]
    results += _app_urls(config)
    results += _store(config)
    with httpx.Client(**client_options(config)) as http:
        metadata, discovery = _discovery(config, http)
        results.append(discovery)
        if metadata is None:
            return results
        results.append(_jwks(metadata, http))
        results.append(_client_auth(config, metadata, http))
        results.append(pushed_authorization_requests(config, metadata))
        results.append(_clock(config, http))
    return results


def _app_urls(config: ThunderIDConfig) -> list[Check]:
    parts = urlsplit(config.after_sign_in_url)
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme == "https" or local:
        redirect = Check("redirect URI", OK, f"{config.after_sign_in_url} (register it exactly)")
    else:
        redirect = Check(
            "redirect URI",
            WARN,
            f"{config.after_sign_in_url} is plain http on a public host: cookies travel "
            "unencrypted; use https (behind a TLS proxy, set the https URL and trusted_proxies)",
        )
    if config.after_sign_out_url:
        sign_out = Check("post-logout redirect URI", OK, config.after_sign_out_url)
    else:
        sign_out = Check(
            "post-logout redirect URI",
            WARN,
            f"not set; {config.post_sign_out_url} is used: register it at the provider or set "
            "THUNDERID_AFTER_SIGN_OUT_URL",
        )
    return [redirect, sign_out]


def _store(config: ThunderIDConfig) -> list[Check]:
    try:
        store = open_store(config.store)
        check_store(store)
    except ConfigError as exc:
        return [Check("session store", FAIL, str(exc))]
    checks = [Check("session store", OK, f"{store!r} is reachable and writable")]
    persistence = getattr(store, "persistence", None)  # a RedisStore's
    if callable(persistence):
        checks.append(_durability(persistence))
    store.close()
    return checks


def _durability(persistence: Callable[[], RedisPersistence]) -> Check:
    """Whether the sessions survive a restart of Redis (docs/stores.md, Durability)."""
    try:
        found = persistence()
    except StoreUnavailable as exc:
        return Check("store durability", WARN, f"could not read the persistence settings: {exc}")
    advice = "set appendonly yes with appendfsync everysec (docs/stores.md, Durability)"
    if found.aof:
        fsync = found.appendfsync or "unknown; CONFIG GET not allowed"
        if found.appendfsync == "no":
            return Check(
                "store durability",
                WARN,
                "append-only file on but appendfsync no: a crash of the host may lose tens "
                f"of seconds of sign-ins and refreshes; {advice}",
            )
        return Check("store durability", OK, f"append-only file on (appendfsync {fsync})")
    if found.snapshots:
        return Check(
            "store durability",
            WARN,
            f"snapshots only (save {found.snapshots}): a restart loses every sign-in and "
            f"refresh since the last snapshot, and those users are signed out; {advice}",
        )
    return Check(
        "store durability",
        WARN,
        "persistence is off"
        + (" (or not visible: CONFIG GET not allowed)" if found.snapshots is None else "")
        + f": a restart of Redis signs every user out; {advice}",
    )


def _discovery(
    config: ThunderIDConfig, http: httpx.Client
) -> tuple[ProviderMetadata | None, Check]:
    url = config.effective_discovery_url
    try:
        response = http.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        detail = describe_failure(exc, url)
        name = "TLS" if is_tls_error(exc) or "does not speak TLS" in detail else "discovery"
        return None, Check(name, FAIL, detail)
    if response.status_code != 200:
        return None, Check(
            "discovery", FAIL, f"{url} answered HTTP {response.status_code}; check base_url"
        )
    try:
        metadata = ProviderMetadata.from_json(response.json(), config.issuer or config.base_url)
    except (ProviderError, ValueError) as exc:
        return None, Check(
            "discovery",
            FAIL,
            f"{exc}; set THUNDERID_ISSUER if the provider's issuer differs from base_url",
        )
    return metadata, Check("discovery", OK, f"{url}, issuer {metadata.issuer}")


def _jwks(metadata: ProviderMetadata, http: httpx.Client) -> Check:
    try:
        response = http.get(metadata.jwks_uri, headers={"Accept": "application/json"})
        key_set = load_key_set(response.json())
    except httpx.HTTPError as exc:
        return Check("JWKS", FAIL, describe_failure(exc, metadata.jwks_uri))
    except (IDTokenError, ValueError) as exc:
        return Check("JWKS", FAIL, f"{metadata.jwks_uri}: {exc}")
    usable = len(key_set.keys)
    skipped = ", ".join(f"{kid} ({kind})" for kid, kind in key_set.unusable.items())
    detail = f"{usable} usable key(s)" + (f"; skipped: {skipped}" if skipped else "")
    return Check("JWKS", OK, detail)


def _client_auth(config: ThunderIDConfig, metadata: ProviderMetadata, http: httpx.Client) -> Check:
    """A code exchange with a code that cannot exist: ``invalid_grant`` means the provider
    accepted the client and looked at the code; ``invalid_client`` means it did not."""
    keys = Keys.from_secret(config.secret)
    env = FlowEnv(config, keys, RecordCodec(keys, config.encrypt_tokens), metadata)
    request = env.token_request(
        {
            "grant_type": "authorization_code",
            "code": "thunderid-mw-doctor-probe",
            "redirect_uri": config.after_sign_in_url,
            "code_verifier": "d" * 43,
        },
        url=metadata.token_endpoint,
    )
    method = f"{config.auth_method} as {config.client_id}"
    form = dict(request.form)
    if (signer := assertion_signer(config)) is not None:
        form["client_assertion"] = signer.sign(metadata.issuer)
    try:
        response = http.post(request.url, data=form, headers=request.headers)
    except httpx.HTTPError as exc:
        return Check("client authentication", FAIL, describe_failure(exc, request.url))
    try:
        error = response.json().get("error")
    except ValueError:
        error = None
    if error in ("invalid_client", "unauthorized_client"):
        return Check(
            "client authentication",
            FAIL,
            f"the token endpoint refused the client ({error}, {method}): check client_id, "
            "client_secret (or client_private_key) and token_endpoint_auth_method against "
            "the provider",
        )
    if error == "invalid_grant":
        return Check("client authentication", OK, f"accepted ({method})")
    return Check(
        "client authentication",
        WARN,
        f"could not tell (HTTP {response.status_code}, error {error!r}, {method})",
    )


def pushed_authorization_requests(config: ThunderIDConfig, metadata: ProviderMetadata) -> Check:
    """Whether sign-in will push its request (RFC 9126), and whether it can."""
    name = "pushed authorization requests"
    if (reason := par_unavailable(config, metadata)) is not None:
        return Check(name, FAIL, f"{reason}: every sign-in fails; enable PAR at the provider")
    if pushes(config, metadata):
        return Check(
            name, OK, f"sign-in pushes to {metadata.pushed_authorization_request_endpoint}"
        )
    why = (
        "never"
        if config.pushed_authorization_requests == "never"
        else "the provider does not require them"
    )
    return Check(name, OK, f"not used ({why})")


def _clock(config: ThunderIDConfig, http: httpx.Client) -> Check:
    try:
        response = http.head(config.effective_discovery_url)
        server = parsedate_to_datetime(response.headers["date"]).timestamp()
    except (httpx.HTTPError, KeyError, TypeError, ValueError):
        return Check("clock", WARN, "the provider sent no usable Date header")
    skew = time.time() - server
    if abs(skew) > max(MAX_CLOCK_SKEW, config.clock_skew):
        return Check(
            "clock",
            FAIL,
            f"this host is {skew:+.0f}s off the provider's clock; run NTP (ID tokens allow "
            f"{config.clock_skew}s)",
        )
    return Check("clock", OK, f"{skew:+.1f}s off the provider (Date has 1s resolution)")


Checker = Callable[[ThunderIDConfig], list[Check]]
