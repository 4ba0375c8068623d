"""Assignment 11, hidden checks: run only by `mlopslab course grade`.

They use ports no public file names: an image (or a healthcheck) written out for
the public session's ports fails them. The second session reuses the public
one's trained workspace.
"""

from __future__ import annotations

import re

from mlopslab.course.grading import Context, Session, check

from ..assignment.checks import (
    answered,
    given,
    healthcheck_command,
    healthy,
    read_dockerfile,
    server_command,
    session,
)

OTHER_PORT, EMPTY_PORT, UNREADY_PORT, READY_PORT = "9183", "9472", "9471", "9470"
OTHER = rf"""
if [ ${{#serve_cmd[@]}} -gt 0 ]; then
  serve other {OTHER_PORT}
  healthcheck other {OTHER_PORT}
  healthcheck elsewhere {EMPTY_PORT}
  halt "$server"
fi
fake unready {UNREADY_PORT}
healthcheck other-unready {UNREADY_PORT}
halt "$faked"
fake ready {READY_PORT}
healthcheck other-ready {READY_PORT}
halt "$faked"
"""
# Names and files that hold a secret by another name than the public check's.
SECRET_PART = {"KEY", "APIKEY", "PASSWD", "PWD", "PASS", "CREDENTIAL", "CREDENTIALS"}
SECRET_FILE = re.compile(
    r"(^|/)(\.env(\.\w+)?|\.netrc|\.pypirc|id_(rsa|ed25519|ecdsa)|"
    r"[^/]*\.(pem|key|p12|pfx)|credentials(\.json)?)$",
    re.IGNORECASE,
)
URL_LOGIN = re.compile(r"://[^/\s:@]+:[^/\s@]+@")


def other_session(ctx: Context) -> Session:
    session(ctx)  # its workspace, trained
    return ctx.session(given(ctx) + OTHER, timeout=120, step="other")


@check(
    "on another port, the CMD serves there and the HEALTHCHECK follows the port",
    points=2,
    visibility="hidden",
    timeout=200,
    success="another MLOPSLAB_SERVE__PORT: /ready 200 there, the healthcheck 0 "
    "there and non-zero on a port where nothing listens",
    failure="the port is not one setting",
)
def port_is_one_setting(ctx: Context) -> None:
    image = read_dockerfile(ctx)
    server_command(ctx, image)
    healthcheck_command(ctx, image)
    found = other_session(ctx)
    answered(ctx, found, "other", OTHER_PORT)
    healthy(ctx, found, "other", True, f"with the server ready on {OTHER_PORT}")
    healthy(
        ctx,
        found,
        "elsewhere",
        False,
        "with MLOPSLAB_SERVE__PORT naming a port where nothing listens",
    )


@check(
    "the HEALTHCHECK judges /ready alone, on other servers and ports",
    points=1,
    visibility="hidden",
    timeout=200,
    success="503 on /ready: non-zero; 200 on /ready: 0",
    failure="the healthcheck does not judge /ready",
)
def judges_ready(ctx: Context) -> None:
    healthcheck_command(ctx, read_dockerfile(ctx))
    found = other_session(ctx)
    healthy(
        ctx, found, "other-unready", False, "against another server's 503 on /ready"
    )
    healthy(ctx, found, "other-ready", True, "against another server's 200 on /ready")


@check(
    "no secret by another name: keys, logins in URLs, key files copied in",
    points=1,
    visibility="hidden",
    timeout=30,
    success="no *_KEY or password-like value, no user:password@ and no key file",
    failure="the image would carry a secret",
)
def no_other_secret(ctx: Context) -> None:
    image = read_dockerfile(ctx)
    for keyword, name, value in image.declared:
        parts = set(name.upper().split("_"))
        ctx.expect(
            not (parts & SECRET_PART and value),
            f"{keyword} {name[:40]} has a value: a secret in the image",
        )
        ctx.expect(
            not URL_LOGIN.search(value or ""),
            f"{keyword} {name[:40]} holds a URL with a password",
        )
    for line, keyword, rest in image.instructions:
        if keyword == "RUN":
            ctx.expect(
                not URL_LOGIN.search(rest), f"line {line}: a URL with a password"
            )
        if keyword in ("COPY", "ADD") and "--from" not in rest:
            for word in rest.split()[:-1]:
                source = word.strip('[]",')
                ctx.expect(
                    not SECRET_FILE.search(source),
                    f"line {line}: {keyword} {source[:60]} copies a secret in",
                )
