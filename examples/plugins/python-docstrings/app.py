"""docstrings: an orch gate plugin written in Python.

Fails a change that adds a public Python function (a `def` whose name does
not start with `_`) without a docstring, with one finding per function. It
reads only the change's diff, so it needs no capabilities.

Build it (the WIT contract is in the orch repository's `wit/0.2.0/` directory):

    componentize-py -d ../../../wit/0.2.0 -w gate-plugin componentize app -o docstrings.wasm

and load it from `orch.toml`:

    [plugins.docstrings]
    path = "examples/plugins/python-docstrings/docstrings.wasm"
"""

import re

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.gate import CheckRequest, CheckResult, Finding, Severity
from wit_world.imports import types

DEF = re.compile(r"^\s*(?:async\s+)?def\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(")
HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def added_python_lines(diff):
    """Yields (path, line number in the new file, text) for every added line of a .py file."""
    path, line = None, 0
    for raw in diff.splitlines():
        if raw.startswith("+++ "):
            target = raw[4:].strip()
            path = target[2:] if target.startswith("b/") else None
        elif raw.startswith("@@"):
            match = HUNK.match(raw)
            line = int(match.group(1)) if match else 0
        elif path is None or not path.endswith(".py"):
            continue
        elif raw.startswith("+"):
            yield path, line, raw[1:]
            line += 1
        elif raw.startswith(" "):
            line += 1


def missing_docstrings(diff):
    """Public functions added without a docstring, as (path, line, name)."""
    lines = list(added_python_lines(diff))
    missing = []
    for i, (path, line, text) in enumerate(lines):
        match = DEF.match(text)
        if not match or match.group(1).startswith("_"):
            continue
        body = [t.strip() for p, _, t in lines[i + 1:] if p == path and t.strip()]
        # A signature may span lines up to the one ending with ':'.
        while body and not text.rstrip().endswith(":") and not body[0].endswith(":"):
            body.pop(0)
        if body and not text.rstrip().endswith(":"):
            body.pop(0)
        if not body or not body[0].startswith(('"""', "'''", '"', "'", 'r"""', "r'''")):
            missing.append((path, line, match.group(1)))
    return missing


class Gate(exports.Gate):
    def describe(self) -> types.PluginInfo:
        return types.PluginInfo(
            name="docstrings",
            version="0.1.0",
            kind=types.PluginKind.GATE,
            description="Fails a change that adds a public Python function without a docstring",
            capabilities=types.Capabilities(http=[], secrets=[], read_paths=[], commands=[]),
        )

    def check(self, request: CheckRequest) -> CheckResult:
        try:
            missing = missing_docstrings(request.diff)
        except Exception as error:  # a bug here must not look like a verdict
            raise Err(types.PluginError_Fatal(f"docstrings could not read the diff: {error}"))
        findings = [
            Finding(
                severity=Severity.ERROR,
                file=path,
                line=line,
                message=f"public function `{name}` has no docstring; say what it does and returns",
            )
            for path, line, name in missing
        ]
        summary = f"{len(findings)} public function(s) without a docstring" if findings else "every new public function is documented"
        return CheckResult(passed=not findings, summary=summary, findings=findings)
