"""A private Postfix 3.7 and Dovecot 2.3 (Debian's packages) for the mail tests of one module.

    from mail_world import mail_world  # noqa: F401  (the module-scoped fixture)

    def test_x(mail_world):
        mail_world.smtp_port        # Postfix's smtpd: the relay Ferry sends through, and where a test submits mail
        mail_world.ferry_lmtp_port  # where Ferry must listen: Postfix hands the bridge's mail domain over there
        mail_world.imap("bob")      # an imaplib connection, logged in as bob@example.com
        mail_world.wait_for_mail("bob", 1)   # the raw mails in bob's INBOX, once there are that many

Postfix relays `example.com` to Dovecot's LMTP (users bob, carol; any other recipient is refused there
with 550 5.1.1, so Postfix bounces the mail to its envelope sender) and the bridge's mail domain
(`chat.test`) to Ferry's LMTP. Its queue is retried every second, so a 4xx costs a test one or two
seconds, not five minutes. Both servers listen on 127.0.0.1 and free ports, keep everything in a
temporary folder (removed afterwards unless FERRY_KEEP_WORLD is set) and run in their own process groups.

Traps (see also ../shared notes on the test world): Dovecot refuses to keep mail as root, so mailboxes
belong to `nobody`; Postfix's master.cf is Debian's with the smtpd port changed and every chroot off.
"""

from __future__ import annotations

import atexit
import email
import email.policy
import imaplib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from world_base import HOST, free_ports, port_open

BRIDGE_DOMAIN = "chat.test"
MAIL_DOMAIN = "example.com"
MAIL_USERS = {"bob": "bobpass", "carol": "carolpass"}


class MailWorldError(RuntimeError):
    pass


class MailWorld:
    def __init__(self, directory: str) -> None:
        self.directory = directory
        (self.smtp_port, self.imap_port, self.dovecot_lmtp_port,
         self.ferry_lmtp_port) = free_ports(4)
        self.postfix: subprocess.Popen | None = None
        self.dovecot: subprocess.Popen | None = None
        self.mail_owner = pwd.getpwnam("nobody")

    # -- public API -------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> "MailWorld":
        os.chmod(self.directory, 0o755)
        self._start_dovecot(timeout)
        self._start_postfix(timeout)
        return self

    def stop(self) -> None:
        if self.postfix is not None:
            subprocess.run(["postfix", "-c", self._path("postfix"), "stop"], capture_output=True, timeout=30)
            self._stop_group(self.postfix)
            self.postfix = None
        if self.dovecot is not None:
            self._stop_group(self.dovecot)
            self.dovecot = None

    def address(self, user: str) -> str:
        return f"{user}@{MAIL_DOMAIN}"

    def imap(self, user: str) -> imaplib.IMAP4:
        connection = imaplib.IMAP4(HOST, self.imap_port, timeout=10)
        connection.login(self.address(user), MAIL_USERS[user])
        return connection

    def mails(self, user: str) -> list[email.message.EmailMessage]:
        """Every mail in the user's INBOX, oldest first, read over IMAP."""
        connection = self.imap(user)
        try:
            connection.select("INBOX")
            _, numbers = connection.search(None, "ALL")
            found = []
            for number in numbers[0].split():
                _, data = connection.fetch(number, "(RFC822)")
                found.append(email.message_from_bytes(data[0][1], policy=email.policy.default))
            return found
        finally:
            connection.logout()

    def wait_for_mail(self, user: str, count: int, timeout: float = 20.0) -> list[email.message.EmailMessage]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.mails(user)
            if len(found) >= count or time.monotonic() > deadline:
                assert len(found) >= count, (f"{count} mails for {user} expected, {len(found)} there after "
                                             f"{timeout} s; Postfix log:\n{self.log_tail()}")
                return found
            time.sleep(0.2)

    def clear_mailboxes(self) -> None:
        for user in MAIL_USERS:
            connection = self.imap(user)
            try:
                connection.select("INBOX")
                _, numbers = connection.search(None, "ALL")
                for number in numbers[0].split():
                    connection.store(number, "+FLAGS", "\\Deleted")
                connection.expunge()
            finally:
                connection.logout()

    def log_tail(self, lines: int = 40) -> str:
        try:
            with open(self._path("maillog"), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no maillog)"

    def wait_for_log(self, pattern: str, timeout: float = 20.0) -> str:
        import re
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(self._path("maillog"), errors="replace") as f:
                    for line in f:
                        if re.search(pattern, line):
                            return line
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"no Postfix log line matching {pattern!r} after {timeout} s:\n{self.log_tail()}")

    # -- Dovecot ------------------------------------------------------------------------------

    def _dovecot_config(self) -> str:
        d = self._path("dovecot")
        uid, gid = self.mail_owner.pw_uid, self.mail_owner.pw_gid
        return f"""# Generated by Ferry's test world (tests/integration/mail_world.py).
base_dir = {d}/run
state_dir = {d}/state
instance_name = ferry-dovecot-{self.imap_port}
protocols = imap lmtp
listen = {HOST}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
log_path = {d}/dovecot.log
mail_location = maildir:~/Maildir
first_valid_uid = {min(uid, 500)}
first_valid_gid = {min(gid, 500)}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu {d}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%Lu {d}/users
}}
service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = {HOST}
    port = {self.dovecot_lmtp_port}
  }}
}}
"""

    def _start_dovecot(self, timeout: float) -> None:
        d = self._path("dovecot")
        for sub in ("run", "state", "mail"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        uid, gid = self.mail_owner.pw_uid, self.mail_owner.pw_gid
        with open(os.path.join(d, "users"), "w") as f:
            for user, password in MAIL_USERS.items():
                home = os.path.join(d, "mail", user)
                os.makedirs(home, exist_ok=True)
                os.chown(home, uid, gid)
                f.write(f"{self.address(user)}:{{PLAIN}}{password}:{uid}:{gid}::{home}::\n")
        with open(os.path.join(d, "dovecot.conf"), "w") as f:
            f.write(self._dovecot_config())
        self.dovecot = self._spawn(["dovecot", "-F", "-c", os.path.join(d, "dovecot.conf")],
                                   os.path.join(d, "stdout.log"), "dovecot (install dovecot-imapd dovecot-lmtpd)")
        self._wait_ports("dovecot", self.dovecot, [self.imap_port, self.dovecot_lmtp_port], timeout,
                         os.path.join(d, "dovecot.log"))

    # -- Postfix ------------------------------------------------------------------------------

    def _postfix_main(self) -> str:
        p = self._path("postfix")
        return f"""# Generated by Ferry's test world (tests/integration/mail_world.py).
compatibility_level = 3.6
queue_directory = {p}/queue
data_directory = {p}/data
meta_directory = /etc/postfix
syslog_name = ferry-postfix-{self.smtp_port}
maillog_file = {self.directory}/maillog
maillog_file_prefixes = {self.directory}
myhostname = mx.test
mydomain = test
myorigin = mx.test
mydestination =
inet_interfaces = {HOST}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = {BRIDGE_DOMAIN}, {MAIL_DOMAIN}
transport_maps = inline:{{ {BRIDGE_DOMAIN}=lmtp:inet:{HOST}:{self.ferry_lmtp_port}, {MAIL_DOMAIN}=lmtp:inet:{HOST}:{self.dovecot_lmtp_port} }}
local_recipient_maps =
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
smtp_dns_support_level = disabled
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""

    def _postfix_master(self) -> str:
        lines = []
        with open("/etc/postfix/master.cf") as f:
            for line in f:
                fields = line.split()
                if not line.startswith(("#", " ", "\t")) and len(fields) >= 8:
                    if fields[0] == "smtp" and fields[1] == "inet":
                        fields[0] = f"{HOST}:{self.smtp_port}"
                    fields[4] = "n"  # chroot off: the queue is not under /var/spool/postfix
                    line = " ".join(fields[:8]) + (" " + " ".join(fields[8:]) if len(fields) > 8 else "") + "\n"
                lines.append(line)
        return "".join(lines)

    def _start_postfix(self, timeout: float) -> None:
        p = self._path("postfix")
        for sub in ("queue", "data"):
            os.makedirs(os.path.join(p, sub), exist_ok=True)
        with open(os.path.join(p, "main.cf"), "w") as f:
            f.write(self._postfix_main())
        with open(os.path.join(p, "master.cf"), "w") as f:
            f.write(self._postfix_master())
        postfix_user = pwd.getpwnam("postfix")
        os.chown(os.path.join(p, "data"), postfix_user.pw_uid, postfix_user.pw_gid)
        setup = subprocess.run(["postfix", "-c", p, "set-permissions"], capture_output=True, text=True, timeout=60)
        if setup.returncode != 0:
            raise MailWorldError(f"postfix set-permissions failed: {setup.stderr}")
        self.postfix = self._spawn(["postfix", "-c", p, "start-fg"], os.path.join(self.directory, "postfix.out"),
                                   "postfix (install postfix)")
        self._wait_ports("postfix", self.postfix, [self.smtp_port], timeout, os.path.join(self.directory, "maillog"))

    # -- processes ----------------------------------------------------------------------------

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    @staticmethod
    def _spawn(argv: list[str], log_path: str, what: str) -> subprocess.Popen:
        log = open(log_path, "ab")
        try:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        except OSError as e:
            raise MailWorldError(f"cannot run {what}: {e}") from e
        finally:
            log.close()

    @staticmethod
    def _wait_ports(name: str, proc: subprocess.Popen, ports: list[int], timeout: float, log: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise MailWorldError(f"{name} exited with {proc.returncode} during start-up:\n"
                                     + MailWorld._tail(log))
            if all(port_open(p) for p in ports):
                return
            time.sleep(0.05)
        raise MailWorldError(f"{name} not listening on {ports} after {timeout} s:\n" + MailWorld._tail(log))

    @staticmethod
    def _tail(path: str, lines: int = 30) -> str:
        try:
            with open(path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return f"(no {path})"

    @staticmethod
    def _stop_group(proc: subprocess.Popen) -> None:
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                proc.poll()
                try:
                    os.killpg(proc.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            else:
                continue
            break
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


@pytest.fixture(scope="module")
def mail_world():
    directory = tempfile.mkdtemp(prefix="ferry-mail-")
    world = MailWorld(directory)
    atexit.register(world.stop)
    try:
        world.start()
        yield world
    finally:
        world.stop()
        atexit.unregister(world.stop)
        if not os.environ.get("FERRY_KEEP_WORLD"):
            shutil.rmtree(directory, ignore_errors=True)
