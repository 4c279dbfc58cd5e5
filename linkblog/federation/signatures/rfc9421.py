"""Reading RFC 9421 HTTP Message Signatures (`Signature-Input` + `Signature`) and rebuilding the
signature base from the request's derived components and header fields."""
from __future__ import annotations

from datetime import datetime
from typing import Mapping

from .base import (MAX_COVERED, Headers, IncomingRequest, ParsedSignature, Policy, SignatureError, encode_base,
                   require_digest, split_target, timestamp)
from .digest import DigestStatus, check_decoded_digests
from .structured import StructuredFieldError, parse_dictionary, serialize_inner_list, serialize_string

_RFC9421_ALGORITHMS = ("rsa-v1_5-sha256", "rsa-pss-sha512")
_TARGET_COMPONENTS = ("@target-uri", "@path", "@request-target")
_DEFAULT_PORTS = {"https": ":443", "http": ":80"}


def parse_rfc9421(request: IncomingRequest, headers: Headers, label: str | None,
                  policy: Policy) -> ParsedSignature:
    inputs = _sf_or_reject(headers.require("signature-input"), "Signature-Input")
    signature_field = headers.get("signature")
    if signature_field is None:
        raise SignatureError("Signature-Input without Signature", 400)
    signatures = _sf_or_reject(signature_field, "Signature")
    label = label if label is not None else _choose_label(inputs)
    if label not in inputs:
        raise SignatureError(f"no signature labelled {label!r}", 400)
    components, params = inputs[label]
    if not isinstance(components, list):
        raise SignatureError(f"Signature-Input {label} is not an inner list", 400)
    signature = signatures.get(label, (None, {}))[0]
    if not isinstance(signature, bytes) or not signature:
        raise SignatureError(f"Signature has no byte sequence for {label}", 400)

    key_id = params.get("keyid")
    if not isinstance(key_id, str) or not key_id:
        raise SignatureError("Signature-Input has no keyid", 400)
    algorithm = params.get("alg")
    if algorithm is not None and not isinstance(algorithm, str):
        raise SignatureError("alg parameter is not a string", 400)
    if algorithm is not None and algorithm not in _RFC9421_ALGORITHMS:
        raise SignatureError(f"alg {algorithm!r} is not accepted ({', '.join(_RFC9421_ALGORITHMS)})", 401)
    created = _rfc9421_time(params, "created")
    expires = _rfc9421_time(params, "expires")

    identifiers = _component_identifiers(components)
    _rfc9421_policy(request, identifiers, created, policy)
    lines = [f"{serialize_string(name)}: {_component_value(request, headers, name)}" for name in identifiers]
    lines.append(f'"@signature-params": {serialize_inner_list(components, params)}')
    if "content-digest" in identifiers:
        require_digest(_check_content_digest(headers.require("content-digest"), request.body),
                        "Content-Digest")
    has_query = split_target(request.target)[1] is not None
    query_covered = not has_query or any(n in identifiers for n in ("@target-uri", "@request-target", "@query"))
    return ParsedSignature(scheme="rfc9421", key_id=key_id, algorithm=algorithm, covered=identifiers,
                           signature=signature, signature_bases=(encode_base("\n".join(lines)),),
                           created=created, expires=expires, label=label, query_covered=query_covered)


def _sf_or_reject(value: str, field: str) -> dict[str, tuple[object, dict[str, object]]]:
    try:
        return parse_dictionary(value)
    except StructuredFieldError as error:
        raise SignatureError(f"{field} is not a valid structured field ({error})", 400) from None


def _choose_label(inputs: Mapping[str, tuple[object, dict[str, object]]]) -> str:
    """First signature declaring an accepted alg, else the first without alg, else the first one
    (which then fails with the reason its alg is refused)."""
    if not inputs:
        raise SignatureError("Signature-Input is empty", 400)
    declared = [(name, member[1].get("alg")) for name, member in inputs.items()]
    for wanted in (lambda alg: alg in _RFC9421_ALGORITHMS, lambda alg: alg is None):
        for name, algorithm in declared:
            if wanted(algorithm):
                return name
    return declared[0][0]


def _rfc9421_time(params: Mapping[str, object], name: str) -> datetime | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise SignatureError(f"{name} parameter is not an integer", 400)
    return timestamp(value, f"{name} parameter")


def _component_identifiers(components: list) -> tuple[str, ...]:
    """Component names; component parameters (;sf ;key ;bs ;req ;name ...) are not supported."""
    names = []
    for value, component_params in components:
        if not isinstance(value, str) or not value:
            raise SignatureError("a covered component is not a string", 400)
        if value != value.lower():
            raise SignatureError(f"component name {value!r} is not lowercase", 400)
        if component_params:
            raise SignatureError(f"component parameters on {value!r} are not supported", 401)
        names.append(value)
    if len(names) > MAX_COVERED:
        raise SignatureError("Signature-Input covers too many components", 400)
    if len(set(names)) != len(names):
        raise SignatureError("a component is signed twice", 401)
    return tuple(names)


def _rfc9421_policy(request: IncomingRequest, names: tuple[str, ...], created: datetime | None,
                    policy: Policy) -> None:
    if policy.require_target and ("@method" not in names or not any(n in names for n in _TARGET_COMPONENTS)):
        raise SignatureError("@method and @target-uri (or @path) are not signed", 401)
    if policy.require_authority and "@authority" not in names and "@target-uri" not in names:
        raise SignatureError("@authority (or @target-uri) is not signed", 401)
    if policy.require_time and created is None:
        raise SignatureError("the created parameter is missing", 401)
    if policy.require_digest_on_post and request.method.upper() == "POST" and "content-digest" not in names:
        raise SignatureError("content-digest is not signed on a POST", 401)


def _component_value(request: IncomingRequest, headers: Headers, name: str) -> str:
    """Derived components of RFC 9421 §2.2 (request side), or a header field's combined value."""
    path, query = split_target(request.target)
    if name == "@method":
        return request.method
    if name == "@authority":
        return _authority(request, headers)
    if name == "@scheme":
        return request.scheme.lower()
    if name == "@target-uri":
        return f"{request.scheme.lower()}://{_authority(request, headers)}{request.target}"
    if name == "@request-target":
        return request.target
    if name == "@path":
        return path
    if name == "@query":
        return "?" + (query or "")
    if name.startswith("@"):
        raise SignatureError(f"derived component {name!r} is not supported", 401)
    return headers.require(name)


def _authority(request: IncomingRequest, headers: Headers) -> str:
    """Host, lowercased, default port dropped (RFC 9421 §2.2.3)."""
    authority = headers.require("host").lower()
    default_port = _DEFAULT_PORTS.get(request.scheme.lower())
    if default_port and authority.endswith(default_port):
        authority = authority[: -len(default_port)]
    return authority


def _check_content_digest(value: str, body: bytes) -> DigestStatus:
    try:
        members = parse_dictionary(value)
    except StructuredFieldError:
        return DigestStatus.MALFORMED
    decoded: dict[str, bytes] = {}
    for name, (digest, _) in members.items():
        if not isinstance(digest, bytes):
            return DigestStatus.MALFORMED
        decoded[name] = digest
    return check_decoded_digests(decoded, body)


__all__ = ["parse_rfc9421"]
