"""docs/api-guide.md runs as written against the stack `make up` starts, and every answer
has the shape its `# =>` line promises."""

import json
import re
import subprocess
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "api-guide.md"
_BLOCK = re.compile(r"```sh\n(.*?)```", re.S)
_EXPECT = re.compile(r"^# => (\{.*\})$")


def _script(web: str, stream: str) -> tuple[str, list[set[str]]]:
    expectations: list[set[str]] = []
    lines = []
    for block in _BLOCK.findall(GUIDE.read_text()):
        for line in block.splitlines():
            match = _EXPECT.match(line)
            if match:
                lines.append(f'echo; echo "@@expect {len(expectations)}"')
                expectations.append(set(re.findall(r'"([^"]+)"', match.group(1))))
            else:
                lines.append(line)
    script = "\n".join(lines).replace("http://127.0.0.1:8000", web)
    return script.replace("http://127.0.0.1:8001", stream), expectations


def _last_json(segment: str) -> object:
    for line in reversed(segment.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


def test_the_api_guide_runs_as_written_and_answers_in_the_promised_shapes(stack):
    script, expectations = _script(stack.web, stack.stream)
    assert len(expectations) >= 12
    result = subprocess.run(
        ["bash", "-e", "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    segments = re.split(r"^@@expect \d+$", result.stdout, flags=re.M)
    assert len(segments) == len(expectations) + 1, result.stdout
    for number, keys in enumerate(expectations):
        answer = _last_json(segments[number])
        assert isinstance(answer, dict), f"example {number}: {segments[number]!r}"
        assert keys <= set(answer), f"example {number}: {sorted(keys - set(answer))} missing"
        assert "code" not in answer or "error" not in answer, f"example {number}: {answer}"
