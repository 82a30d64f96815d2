"""gunicorn's access log without secrets: no query strings, no headers, no referrer, and the
path segments that carry a token (invitation and password-reset links) redacted.

The logger hands the format only the atoms below, so a deployer who edits
``access_log_format`` cannot bring a token back into the log with ``%(r)s`` or
``%({authorization}i)s``.
"""

import re
from typing import Any

from gunicorn.glogging import Logger

# Portal links whose path is a secret: /invitations/<token>/, /reset/<uid>/<token>/.
_SECRET_PATH = re.compile(r"^/(invitations|reset)/.+")
SAFE_ATOMS = ("h", "t", "s", "m", "U", "H", "b", "B", "T", "D", "M", "L", "p")
FORMAT = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s'


def redact_path(path: str) -> str:
    return _SECRET_PATH.sub(lambda m: f"/{m.group(1)}/[redacted]", path)


class AccessLogger(Logger):
    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> Any:
        every = super().atoms(resp, req, environ, request_time)
        safe = {key: every[key] for key in SAFE_ATOMS}
        safe["U"] = redact_path(str(every.get("U") or ""))
        safe["{x-request-id}o"] = every.get("{x-request-id}o", "-")
        return _Atoms(safe)


class _Atoms(dict[str, Any]):
    """Any atom the format asks for that is not safe prints as '-'."""

    def __missing__(self, key: str) -> str:
        return "-"
