"""Writes docs/configuration.md from config/settings.py: every environment variable the
settings read, its type, its default and the comment that explains it.

``python scripts/config_reference.py`` regenerates the file; a test fails when the file and
the settings disagree, so the reference cannot drift. A variable's description is the comment
right above the statement that reads it (or at the end of its line), and the section is the
nearest ``# --- Section ---`` banner above it.
"""

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "config" / "settings.py"
OUTPUT = ROOT / "docs" / "configuration.md"
_READERS = {"str", "bool", "int", "float", "list", "db_url", "email_url"}
_BANNER = re.compile(r"^# --- (.+?) -*$")

HEADER = """# Configuration reference

Generated from `config/settings.py` by `python scripts/config_reference.py`; a test fails when
the two disagree. Every setting comes from the environment (12-factor). Without `DEBUG=true`
the settings are production's: they refuse to start without the values marked *required in
production* and refuse unsafe ones (README, "Production serving").

Process-level variables read outside the settings: `GUNICORN_BIND`, `WEB_CONCURRENCY`,
`GUNICORN_TIMEOUT`, `GUNICORN_GRACEFUL_TIMEOUT`, `GUNICORN_MAX_REQUESTS`,
`GUNICORN_ACCESS_LOG`, `FORWARDED_ALLOW_IPS`, `PROMETHEUS_MULTIPROC_DIR`
(`config/gunicorn.conf.py`); `WEB_PORT`, `STREAM_PORT`, `ROLLUP_SECONDS` (`make up`).
"""


@dataclass(frozen=True)
class Variable:
    name: str
    kind: str
    default: str
    section: str
    description: str


def variables(source: str) -> list[Variable]:
    lines = source.splitlines()
    found: dict[str, Variable] = {}
    for node in ast.walk(ast.parse(source)):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "env"
            and node.func.attr in _READERS
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            continue
        name = str(node.args[0].value)
        default = next(
            (ast.get_source_segment(source, k.value) for k in node.keywords if k.arg == "default"),
            None,
        )
        statement_line = _statement_start(lines, node.lineno)
        variable = Variable(
            name=name,
            kind=node.func.attr,
            default=" ".join((default or "(none)").split()),
            section=_section(lines, statement_line),
            description=_description(lines, statement_line, node.lineno, node.args[0].lineno),
        )
        # A variable read twice (a check, then the value) keeps its best-described reading.
        if name not in found or len(variable.description) > len(found[name].description):
            found[name] = variable
    return sorted(found.values(), key=lambda v: (lines_index(lines, v.section), v.name))


def lines_index(lines: list[str], section: str) -> int:
    for number, line in enumerate(lines):
        match = _BANNER.match(line)
        if match and match.group(1).strip() == section:
            return number
    return -1


def _statement_start(lines: list[str], lineno: int) -> int:
    """The first line of the top-level statement holding ``lineno`` (1-based)."""
    number = lineno
    inside = (" ", ")", "]", "}")
    while number > 1 and (lines[number - 1].startswith(inside) or not lines[number - 1]):
        number -= 1
    return number


def _section(lines: list[str], lineno: int) -> str:
    for line in reversed(lines[: lineno - 1]):
        match = _BANNER.match(line)
        if match:
            return match.group(1).strip()
    return "General"


def _description(lines: list[str], statement: int, call: int, name_line: int) -> str:
    """The comment block right above the line that names the variable (or the call's line,
    or for a statement of one line, above the statement), and a comment at its end."""
    comments = _comment_block_above(lines, name_line) or _comment_block_above(lines, call)
    if not comments and call == statement:
        # One comment may introduce a run of one-line settings (RATE_A = ..., RATE_B = ...).
        number = statement - 1
        while number >= 1 and _ONE_LINE_SETTING.match(lines[number - 1]):
            number -= 1
        comments = _comment_block_above(lines, number + 1)
    trailing = lines[call - 1].split("  # ", 1)
    if len(trailing) == 2:
        comments.append(trailing[1].strip())
    return " ".join(c for c in comments if c)


_ONE_LINE_SETTING = re.compile(r"^[A-Z][A-Z0-9_]* = .*[^(\[{,]$")


def _comment_block_above(lines: list[str], statement: int) -> list[str]:
    comments: list[str] = []
    number = statement - 1
    while number >= 1 and lines[number - 1].lstrip().startswith("#"):
        text = lines[number - 1].strip()
        if _BANNER.match(text):
            break
        comments.insert(0, text.lstrip("# ").strip())
        number -= 1
    return comments


_TABLE_HEAD = "| variable | type | default | meaning |\n|---|---|---|---|"


def render(found: list[Variable]) -> str:
    out = [HEADER]
    section = None
    for variable in found:
        if variable.section != section:
            section = variable.section
            out.append(f"\n## {section}\n\n{_TABLE_HEAD}")
        default = variable.default.replace("|", "\\|")
        description = variable.description.replace("|", "\\|") or "—"
        out.append(f"| `{variable.name}` | {variable.kind} | `{default}` | {description} |")
    return "\n".join(out) + "\n"


def main() -> None:
    text = render(variables(SETTINGS.read_text()))
    if "--check" in sys.argv:
        sys.exit(0 if OUTPUT.exists() and OUTPUT.read_text() == text else 1)
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(text)


if __name__ == "__main__":
    main()
