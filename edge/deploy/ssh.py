"""The device over OpenSSH and rsync, with the user's keys and ssh config, never a password.

Every remote step is a POSIX shell script sent on ssh's stdin (``sh -s``), so nothing a step carries,
such as a ``--token``, shows in a process list or needs quoting. With ``dry_run`` nothing runs: each
command and script is printed instead (secrets masked).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field

from edge.errors import EdgeError

SECRET_FLAGS = ("--token",)
CONNECT_TIMEOUT = 10  # seconds


def mask(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``--token abc`` -> ``--token ***`` (also ``--token=abc`` and a quoted value), and every
    known secret wherever it appears."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    for flag in SECRET_FLAGS:
        text = re.sub(rf"({flag}[ =])('[^']*'|\"[^\"]*\"|\S+)", r"\1***", text)
    return text


@dataclass(frozen=True)
class Target:
    """Where to connect: ``user@host`` (or a Host of the ssh config), and how."""

    destination: str
    port: int | None = None
    identity: str | None = None
    config: str | None = None
    options: tuple[str, ...] = field(default=())  # extra ``-o Key=Value``

    def ssh_args(self) -> list[str]:
        """ssh's options: batch mode (keys only, no prompt), a connect timeout, then the user's."""
        args = ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={CONNECT_TIMEOUT}"]
        if self.config:
            args += ["-F", self.config]
        if self.port:
            args += ["-p", str(self.port)]
        if self.identity:
            args += ["-i", self.identity, "-o", "IdentitiesOnly=yes"]
        for option in self.options:
            args += ["-o", option]
        return args

    def ssh(self, *command: str) -> list[str]:
        return ["ssh", *self.ssh_args(), self.destination, *command]

    def rsync(self, source: str, dest: str, *extra: str, fetch: bool = False) -> list[str]:
        """rsync ``source`` to ``dest`` on the device (``fetch``: from the device's ``source`` to the
        local ``dest``), over the same ssh options."""
        shell = " ".join(shlex.quote(a) for a in ["ssh", *self.ssh_args()])
        ends = [f"{self.destination}:{source}", dest] if fetch else [source, f"{self.destination}:{dest}"]
        return ["rsync", "-a", *([] if fetch else ["--delete"]), *extra, "-e", shell, *ends]


class Remote:
    """Runs scripts on the device (or prints them, with ``dry_run``)."""

    def __init__(
        self, target: Target, dry_run: bool = False, out=sys.stdout, secrets: tuple[str, ...] = ()
    ) -> None:
        self.target = target
        self.dry_run = dry_run
        self.out = out
        self.secrets = secrets

    def mask(self, text: str) -> str:
        return mask(text, self.secrets)

    def _show(self, argv: list[str], script: str | None = None) -> None:
        print("$ " + self.mask(shlex.join(argv)), file=self.out)
        if script is not None:
            for line in script.strip().splitlines():
                print("    " + self.mask(line), file=self.out)

    def run(self, script: str, *, what: str, check: bool = True, changes: bool = True) -> str:
        """Run ``script`` with ``sh -s`` on the device; its stdout. ``changes=False`` marks a read-only
        step, which a dry run performs too. A failure is an ``EdgeError`` naming ``what``."""
        argv = self.target.ssh("sh", "-s")
        if self.dry_run and changes:
            self._show(argv, script)
            return ""
        try:
            done = subprocess.run(argv, input=script, capture_output=True, text=True)
        except FileNotFoundError:
            raise EdgeError("ssh is not installed here: install the OpenSSH client") from None
        if done.returncode == 255:
            first = (done.stderr.strip().splitlines() or ["no answer"])[-1]
            raise EdgeError(f"cannot reach {self.target.destination} over ssh: {self.mask(first)}")
        if check and done.returncode != 0:
            lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
            detail = self.mask(lines[-1]) if lines else f"exit {done.returncode}"
            raise EdgeError(f"{what} failed on {self.target.destination}: {detail}")
        return done.stdout

    def stream(self, script: str, *, what: str) -> int:
        """Run ``script`` on the device with its output going straight to this terminal; its exit code."""
        argv = self.target.ssh("sh", "-s")
        inherit = self.out is sys.stdout  # else (a caller's buffer) collected and written there
        try:
            done = subprocess.run(argv, input=script, text=True, stdout=None if inherit else subprocess.PIPE)
            if not inherit:
                self.out.write(done.stdout)
        except FileNotFoundError:
            raise EdgeError("ssh is not installed here: install the OpenSSH client") from None
        if done.returncode == 255:
            raise EdgeError(f"cannot reach {self.target.destination} over ssh ({what})")
        return done.returncode

    def sync(self, source: str, dest: str, *extra: str, what: str, fetch: bool = False) -> None:
        """rsync a local folder or file to the device (``fetch``: a device file to here)."""
        argv = self.target.rsync(source, dest, *extra, fetch=fetch)
        if self.dry_run:
            self._show(argv)
            return
        try:
            done = subprocess.run(argv, capture_output=True, text=True)
        except FileNotFoundError:
            raise EdgeError("rsync is not installed here: install rsync (and on the device too)") from None
        if done.returncode != 0:
            lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
            hint = " (is rsync installed on the device?)" if done.returncode in (12, 127) else ""
            raise EdgeError(f"{what} failed: {self.mask(lines[-1]) if lines else done.returncode}{hint}")
