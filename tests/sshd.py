"""A real OpenSSH server for the deploy tests: sshd as the test's own user, on a free loopback port,
with a fresh host key and client key; a client config names it ``edgesight-test``."""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tools.testbed import free_port

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
HOST = "edgesight-test"


@dataclass(frozen=True)
class SshServer:
    port: int
    config: Path  # the client's ssh config, with Host edgesight-test
    key: Path
    process: subprocess.Popen


def start_sshd(folder: Path) -> SshServer:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("host_ed25519", "client_ed25519"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", folder / name], check=True)
    (folder / "authorized_keys").write_text((folder / "client_ed25519.pub").read_text())
    os.chmod(folder / "authorized_keys", 0o600)
    port = free_port()
    (folder / "sshd_config").write_text(
        f"""Port {port}
ListenAddress 127.0.0.1
HostKey {folder}/host_ed25519
AuthorizedKeysFile {folder}/authorized_keys
PidFile {folder}/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
LogLevel ERROR
Subsystem sftp internal-sftp
"""
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation folder, when root
    with open(folder / "sshd.log", "w") as log:  # sshd keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", folder / "sshd_config"], stdout=subprocess.DEVNULL, stderr=log
        )
    config = folder / "ssh_config"
    config.write_text(
        f"""Host {HOST}
  HostName 127.0.0.1
  Port {port}
  User {getpass.getuser()}
  IdentityFile {folder}/client_ed25519
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
"""
    )
    end = time.monotonic() + 15
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited: {(folder / 'sshd.log').read_text()}")
        done = subprocess.run(["ssh", "-F", config, HOST, "true"], capture_output=True, timeout=15)
        if done.returncode == 0:
            return SshServer(port, config, folder / "client_ed25519", proc)
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"sshd did not answer: {(folder / 'sshd.log').read_text()}")
