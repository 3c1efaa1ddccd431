# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Parse, normalise and compare IAM-style policy documents (bucket, key, topic, role policies)."""

from __future__ import annotations

import json
from urllib.parse import unquote


class PolicyParseError(Exception):
    pass


def parse_policy(document):
    """A policy given as a mapping, a JSON string or a URL-encoded JSON string -> mapping."""
    if document is None:
        return None
    if isinstance(document, dict):
        return document
    text = document.strip() if isinstance(document, str) else document
    if not isinstance(text, str):
        raise PolicyParseError(f"policy has unexpected type {type(document).__name__}")
    if text.startswith("%7B") or text.startswith("%7b"):
        text = unquote(text)
    try:
        value = json.loads(text)
    except ValueError as e:
        raise PolicyParseError(f"policy is not valid JSON: {e}") from e
    if not isinstance(value, dict):
        raise PolicyParseError("policy is not a JSON object")
    return value


def statements(document):
    doc = parse_policy(document) or {}
    stmts = doc.get("Statement", [])
    if isinstance(stmts, dict):
        stmts = [stmts]
    return [s for s in stmts if isinstance(s, dict)]


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _principal(value):
    if value is None:
        return None
    if value == "*":
        return {"AWS": ["*"]}
    if isinstance(value, dict):
        return {k: sorted(_scalar(v) for v in _as_list(vals)) for k, vals in sorted(value.items())}
    return {"?": sorted(_scalar(v) for v in _as_list(value))}


def _condition(value):
    out = {}
    for operator, entries in (value or {}).items():
        if not isinstance(entries, dict):
            out[operator] = _scalar(entries)
            continue
        out[operator] = {k.lower(): sorted(_scalar(v) for v in _as_list(vals)) for k, vals in entries.items()}
    return out


def normalize_statement(stmt):
    """A statement in a form where equal meaning gives equal values (Sid excluded)."""
    out = {"Effect": stmt.get("Effect")}
    for key in ("Action", "NotAction"):
        if key in stmt:
            out[key] = sorted(str(a).lower() for a in _as_list(stmt[key]))
    for key in ("Resource", "NotResource"):
        if key in stmt:
            out[key] = sorted(_scalar(r) for r in _as_list(stmt[key]))
    for key in ("Principal", "NotPrincipal"):
        if key in stmt:
            out[key] = _principal(stmt[key])
    if stmt.get("Condition"):
        out["Condition"] = _condition(stmt["Condition"])
    return out


def statement_differences(expected, observed):
    """Names of the statement elements that differ (empty when the statements mean the same)."""
    exp = normalize_statement(expected)
    obs = normalize_statement(observed)
    return [key for key in sorted(set(exp) | set(obs)) if exp.get(key) != obs.get(key)]


def by_sid(document):
    return {s["Sid"]: s for s in statements(document) if s.get("Sid")}


def is_wildcard_principal(stmt):
    principal = stmt.get("Principal")
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return any(str(v) == "*" for v in _as_list(principal.get("AWS")))
    return False


def public_allows(document, allow_with_condition):
    """Allow statements whose principal is ``*`` (all, or only those without a Condition)."""
    found = []
    for index, stmt in enumerate(statements(document)):
        if stmt.get("Effect") != "Allow" or not is_wildcard_principal(stmt):
            continue
        if allow_with_condition and stmt.get("Condition"):
            continue
        found.append(stmt.get("Sid") or f"Statement[{index}]")
    return found


def admin_allows(document):
    """Allow statements granting every action on every resource."""
    found = []
    for index, stmt in enumerate(statements(document)):
        if stmt.get("Effect") != "Allow":
            continue
        actions = [str(a) for a in _as_list(stmt.get("Action"))]
        resources = [str(r) for r in _as_list(stmt.get("Resource"))]
        if any(a in ("*", "*:*") for a in actions) and "*" in resources:
            found.append(stmt.get("Sid") or f"Statement[{index}]")
    return found


def condition_keys(stmt):
    keys = set()
    for entries in (stmt.get("Condition") or {}).values():
        if isinstance(entries, dict):
            keys.update(k.lower() for k in entries)
    return keys


def documents_equal(expected, observed):
    """Two policy documents grant the same statements (order and Sids of unnamed ones ignored)."""
    exp = sorted(json.dumps(normalize_statement(s), sort_keys=True) for s in statements(expected))
    obs = sorted(json.dumps(normalize_statement(s), sort_keys=True) for s in statements(observed))
    return exp == obs
