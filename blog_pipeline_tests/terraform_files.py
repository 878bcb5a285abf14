"""deploy/terraform parsed with python-hcl2, for tests that check it without a terraform binary."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

TERRAFORM = Path(__file__).resolve().parents[1] / "deploy" / "terraform"
# Plain values: no comment entries, blocks as lists of mappings, strings without their quotes.
_OPTIONS = SerializationOptions(
    with_comments=False, explicit_blocks=False, strip_string_quotes=True
)


def load(relative_path: str) -> dict[str, Any]:
    with open(TERRAFORM / relative_path) as handle:
        return hcl2.load(handle, serialization_options=_OPTIONS)


def resource(kind: str, name: str) -> dict[str, Any]:
    """Return the body of ``resource "<kind>" "<name>"`` in main.tf."""
    for block in load("main.tf")["resource"]:
        if name in block.get(kind, {}):
            return block[kind][name]
    raise AssertionError(f"resource {kind}.{name} is not in deploy/terraform/main.tf")


def variables() -> dict[str, dict[str, Any]]:
    """Return every variable of variables.tf by name."""
    return {
        name: body for block in load("variables.tf")["variable"] for name, body in block.items()
    }


def tfvars(environment: str) -> dict[str, Any]:
    return load(f"env/{environment}.tfvars")


def variable_values(environment: str) -> dict[str, Any]:
    """Return each variable's value for ``environment``: its tfvars entry, else its default."""
    values = {name: body["default"] for name, body in variables().items() if "default" in body}
    values.update(tfvars(environment))
    return values


def resolve(expression: Any, environment: str) -> Any:
    """Evaluate the simple expressions these files use: a literal, ``${var.NAME}``,
    ``${(var.NAME)}`` or ``${tostring(var.NAME)}``, with the values of ``environment``.

    Raises ValueError for any other expression, so a test never guesses.
    """
    if not isinstance(expression, str) or not expression.startswith("${"):
        return expression
    match = re.fullmatch(r"\$\{(?:tostring)?\(?var\.(\w+)\)?\}", expression)
    if not match:
        raise ValueError(f"cannot evaluate {expression!r} without terraform")
    value = variable_values(environment)[match[1]]
    return str(value) if "tostring" in expression else value


def local_map(name: str, environment: str) -> dict[str, Any]:
    """Return the local ``name`` of main.tf, keys and values resolved for ``environment``."""
    [locals_block] = load("main.tf")["locals"]
    return {
        resolve(key, environment): resolve(value, environment)
        for key, value in locals_block[name].items()
    }
