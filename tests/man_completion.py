#!/usr/bin/env python3
"""The manual page and the bash completion against the program itself.

- The configured man page (VP_MANPAGE) renders without a warning under
  `man --warnings -l` and `groff -man -ww -z`.
- Every command and every option that `virt-provision --help` and
  `virt-provision COMMAND --help` list is described in the man page and
  offered by the completion, so an option added to the program without
  documentation fails here.
- The completion (data/virt-provision.bash-completion, or VP_COMPLETION) runs
  in a real bash: sourced, registered, and called as readline would call it,
  with pool, volume, domain, network and disk names from an isolated session
  libvirtd (tests/libvirt/session-daemon.sh); once through a pty, so that
  readline's own word splitting at ':' and '=' is exercised too.

Environment: VP_BIN (the built virt-provision), VP_MANPAGE (the configured
man page in the build tree).  Needs man-db, groff-base, bash and what
session-daemon.sh needs.  Nothing is skipped: a missing tool is a failure
that names the package.
"""
import os
import pty
import re
import select
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import libvirt_harness as H  # noqa: E402


def env_path(name, default=None):
    value = os.environ.get(name, default)
    if not value:
        raise SystemExit(f"{name} is not set; run through ctest")
    if not os.path.exists(value):
        raise SystemExit(f"{name}={value} does not exist")
    return value


VP_BIN = env_path("VP_BIN")
MANPAGE = env_path("VP_MANPAGE")
COMPLETION = env_path("VP_COMPLETION", os.path.join(
    SOURCE, "data", "virt-provision.bash-completion"))

# Words from the design that --help may not list yet; they must be in the
# man page and the completion all the same.
DESIGN_COMMANDS = {"provision", "image", "info", "check", "attach", "convert",
                   "import"}


def need(program, package):
    path = shutil.which(program)
    if path is None:
        raise AssertionError(
            f"'{program}' not found: apt-get install -y {package}")
    return path


def run(argv, env=None, timeout=120, check=True):
    p = subprocess.run(argv, env=env, capture_output=True, text=True,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{argv} exited {p.returncode}:\n{p.stderr}")
    return p


# --- what the program accepts, from its --help ----------------------------

def help_sections(text):
    """{header: [lines]} for every 'Something:' header of a help text."""
    sections, current = {}, None
    for line in text.splitlines():
        if not line.strip():
            current = None
        elif not line.startswith(" ") and line.rstrip().endswith(":"):
            current = sections.setdefault(line.strip()[:-1], [])
        elif current is not None:
            current.append(line)
    return sections


def options_in(lines):
    """Option names of help lines such as '  -c, --connect=URI   text' or
    '  -c, --connect URI  text' or '  --json      text'."""
    found = set()
    for line in lines:
        line = line.strip()
        if not line.startswith("-"):
            continue
        spec = re.split(r"\s{2,}", line, maxsplit=1)[0]
        for item in spec.split(","):
            m = re.match(r"\s*(--?[A-Za-z0-9][A-Za-z0-9-]*)", item)
            if m:
                found.add(m.group(1))
    return found


def program_interface():
    """(commands, global options, {command: options}) from --help."""
    top = run([VP_BIN, "--help"]).stdout
    sections = help_sections(top)
    commands = [line.split()[0] for line in sections.get("Commands", [])]
    globals_ = options_in(sections.get("Global options", []))
    per_command = {}
    for cmd in commands:
        text = run([VP_BIN, cmd, "--help"]).stdout
        opts = set()
        for header, lines in help_sections(text).items():
            if header.lower().endswith("options"):
                opts |= options_in(lines)
        per_command[cmd] = opts
    return commands, globals_, per_command


COMMANDS, GLOBALS, OPTIONS = program_interface()


class HelpParsing(unittest.TestCase):
    """The parser above must see what is there, or the tests below prove
    nothing."""

    def test_parsed(self):
        self.assertLessEqual({"provision", "image", "info", "check"},
                             set(COMMANDS))
        self.assertLessEqual({"-c", "--connect", "--json", "-q", "--quiet",
                              "-v", "--verbose", "--version", "-h", "--help"},
                             GLOBALS)
        self.assertLessEqual({"-p", "--pool", "--size", "--preallocation",
                              "--cdrom", "--start", "--json", "-c"},
                             OPTIONS["provision"])
        self.assertLessEqual({"--size", "--force", "--backing-format"},
                             OPTIONS["image"])


# --- the man page ----------------------------------------------------------

def render_man(width=80):
    need("man", "man-db")
    env = dict(os.environ, MANWIDTH=str(width), LC_ALL="C.UTF-8",
               MAN_KEEP_FORMATTING="", MANPAGER="cat", PAGER="cat")
    env.pop("MANOPT", None)
    return run(["man", "--warnings", "-l", MANPAGE], env=env)


class ManPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rendered = render_man()
        cls.text = cls.rendered.stdout
        # item tags: option lists (.TP) start with the option itself
        cls.items = [line.strip() for line in cls.text.splitlines()
                     if line.strip().startswith("-")]

    def test_man_warnings(self):
        self.assertEqual(self.rendered.stderr, "",
                         "man --warnings -l reports problems")
        self.assertIn("virt-provision", self.text)

    def test_groff_warnings(self):
        need("groff", "groff-base")
        p = run(["groff", "-man", "-ww", "-z", MANPAGE], check=False,
                env=dict(os.environ, LC_ALL="C.UTF-8"))
        self.assertEqual((p.returncode, p.stderr), (0, ""))

    def test_version_substituted(self):
        version = run([VP_BIN, "--version"]).stdout.split()[-1]
        with open(MANPAGE, encoding="utf-8") as f:
            source = f.read()
        self.assertNotRegex(source, r"@[A-Za-z_]+@",
                            "an @VARIABLE@ was left unsubstituted")
        self.assertRegex(source, r'(?m)^\.TH VIRT-PROVISION 1 "[^"]+" '
                         r'"virt-provision ' + re.escape(version) + '"')

    def test_sections(self):
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "GLOBAL OPTIONS",
                        "COMMANDS", "DISK OPTIONS", "DOMAIN OPTIONS", "SIZES",
                        "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES",
                        "SEE ALSO"):
            self.assertRegex(self.text, f"(?m)^{section}$")
        for word in ("LIBVIRT_DEFAULT_URI", "VIRT_PROVISION_LOCALEDIR",
                     "XDG_DATA_HOME", "LANGUAGE", "virsh(1)",
                     "virt-install(1)", "qemu-img(1)", "63", "128+N",
                     "--remove-all-storage", "qemu-img convert"):
            self.assertIn(word, self.text)

    def test_manifest_reach(self):
        """What a manifest may reach on the runner, and the URIs refused
        (design.md, "Labs"), are in the page, not only in the design."""
        flat = " ".join(self.text.split())
        for words in ("--allow-path DIR", "beneath the manifest's folder",
                      "symbolic link", "ext transport", "command parameter",
                      "before any host is contacted"):
            with self.subTest(words=words):
                self.assertIn(words, flat)

    def test_every_command_has_a_section(self):
        for cmd in set(COMMANDS) | DESIGN_COMMANDS:
            self.assertRegex(self.text, rf"(?m)^   {cmd}$",
                             f"no COMMANDS subsection for '{cmd}'")

    def assert_documented(self, option, where):
        pattern = re.compile(rf"(?<![\w-]){re.escape(option)}(?![\w-])")
        self.assertTrue(any(pattern.search(line) for line in self.items),
                        f"option {option} ({where}) is not described in "
                        f"the man page (no option item names it)")

    def test_every_option_documented(self):
        for option in GLOBALS:
            self.assert_documented(option, "global")
        for cmd, options in OPTIONS.items():
            for option in options:
                with self.subTest(command=cmd, option=option):
                    self.assert_documented(option, cmd)


# --- the completion ----------------------------------------------------------

def readline_words(line):
    """COMP_WORDS as readline makes them from LINE (no quoting in these
    tests): split at blanks, then at runs of '=' and ':' (both in
    COMP_WORDBREAKS), which become words of their own."""
    words = []
    for word in line.split():
        words.extend(t for t in re.split(r"([=:]+)", word) if t)
    if line == "" or line[-1].isspace():
        words.append("")
    return words


def complete(line, env_extra=None):
    """Calls the completion function as readline would for the cursor at
    the end of LINE; returns (COMPREPLY list, stderr)."""
    need("bash", "bash")
    words = readline_words(line)
    cword = len(words) - 1
    script = "\n".join([
        f"source {shlex.quote(COMPLETION)} || exit 99",
        "COMP_WORDS=(" + " ".join(shlex.quote(w) for w in words) + ")",
        f"COMP_CWORD={cword}",
        f"COMP_LINE={shlex.quote(line)}",
        f"COMP_POINT={len(line)}",
        "COMP_TYPE=9 COMP_KEY=9",
        "COMPREPLY=()",
        'spec=$(complete -p virt-provision) || exit 98',
        'func=${spec#*-F }; func=${func%% *}',
        f'"$func" virt-provision {shlex.quote(words[cword])} '
        f'{shlex.quote(words[cword - 1] if cword else "")}',
        'printf "%s\\n" "${COMPREPLY[@]}"',
    ])
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "HOME": os.environ.get("HOME", "/"), "LC_ALL": "C.UTF-8"}
    env.update(env_extra or {})
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", script],
                       env=env, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"completing '{line}': bash exited "
                             f"{p.returncode}: {p.stderr}")
    return [w for w in p.stdout.split("\n") if w], p.stderr


class Completion(unittest.TestCase):
    """Everything that needs no daemon."""

    def reply(self, line, **kw):
        words, err = complete(line, **kw)
        self.assertEqual(err, "", f"completing '{line}' printed errors")
        return words

    def test_registered(self):
        p = run(["bash", "--norc", "--noprofile", "-c",
                 f"source {shlex.quote(COMPLETION)} && "
                 "complete -p virt-provision"])
        self.assertEqual(p.stderr, "")
        self.assertRegex(p.stdout, r"^complete -F \S+ virt-provision$")

    def test_commands(self):
        self.assertEqual(sorted((set(COMMANDS) | DESIGN_COMMANDS)
                                - set(self.reply("virt-provision "))), [],
                         "commands the completion does not offer")
        self.assertEqual(set(self.reply("virt-provision i")),
                         {"image", "import", "info"})
        # global options may stand before the command
        self.assertIn("convert", self.reply("virt-provision --json -q c"))

    def test_every_option_offered(self):
        # with no command yet the command is provision: its options, plus
        # the global ones such as --version
        top = set(self.reply("virt-provision -"))
        self.assertEqual(sorted((GLOBALS | OPTIONS.get("provision", set()))
                                - top), [],
                         "options missing with no command typed")
        for cmd, options in OPTIONS.items():
            with self.subTest(command=cmd):
                offered = set(self.reply(f"virt-provision {cmd} -"))
                self.assertEqual(sorted(options - offered), [],
                                 f"options of '{cmd}' that the completion "
                                 f"does not offer")
                # after options that take no value, still the options
                offered = set(self.reply(f"virt-provision -q {cmd} --json -"))
                self.assertEqual(sorted(options - offered), [])

    def test_values(self):
        cases = {
            "virt-provision --preallocation ":
                {"off", "metadata", "falloc", "full"},
            "virt-provision image x.qcow2 --preallocation=f":
                {"falloc", "full"},
            "virt-provision image x --compat ": {"0.10", "1.1"},
            "virt-provision image x --refcount-bits ":
                {"1", "2", "4", "8", "16", "32", "64"},
            "virt-provision image x --format ": {"qcow2", "raw"},
            "virt-provision convert a.img b.qcow2 --source-format ":
                {"qcow2", "raw"},
            "virt-provision attach --disk-bus s": {"scsi", "sata"},
            "virt-provision --virt-type ": {"kvm", "qemu"},
            "virt-provision --graphics ": {"none", "vnc", "spice"},
            "virt-provision --disk-bus ": {"virtio", "scsi", "sata", "ide"},
            "virt-provision --cache ": {"none", "writeback", "writethrough",
                                        "directsync", "unsafe", "default"},
            "virt-provision --io ": {"native", "threads", "io_uring"},
            "virt-provision --discard ": {"unmap", "ignore"},
            "virt-provision --network ":
                {"network=", "bridge=", "user", "none"},
            "virt-provision --name ": set(),
            "virt-provision --size ": set(),
        }
        for line, expected in cases.items():
            with self.subTest(line=line):
                self.assertEqual(set(self.reply(line)), expected)
        self.assertIn("qcow2", self.reply("virt-provision image x "
                                          "--backing-format "))
        self.assertIn("64K", self.reply("virt-provision --cluster-size "))
        # readline replaces only what follows the last ':' of the word
        self.assertEqual(set(self.reply("virt-provision -c qemu:///s")),
                         {"///system", "///session"})

    def test_files(self):
        with tempfile.TemporaryDirectory(prefix="vpc-files.") as d:
            for name in ("boot.iso", "notes.txt", "disk.qcow2"):
                open(os.path.join(d, name), "w").close()
            os.mkdir(os.path.join(d, "sub"))
            base = d + "/"
            everything = {base + n for n in ("boot.iso", "notes.txt",
                                              "disk.qcow2", "sub")}
            for line in (f"virt-provision image {base}",
                         f"virt-provision info {base}",
                         f"virt-provision check {base}",
                         f"virt-provision --kernel {base}",
                         f"virt-provision --initrd {base}",
                         f"virt-provision image x --backing {base}",
                         f"virt-provision convert {base}",
                         f"virt-provision convert a.img {base}"):
                with self.subTest(line=line):
                    self.assertEqual(set(self.reply(line)), everything)
            self.assertEqual(set(self.reply(f"virt-provision --cdrom {base}")),
                             {base + "boot.iso", base + "sub"})
            # image takes one FILE, info and check one: no second file
            self.assertEqual(self.reply(f"virt-provision image a {base}"), [])
            # --allow-path takes a folder, for every lab command
            for cmd in ("apply", "status", "destroy"):
                line = f"virt-provision {cmd} lab.yaml --allow-path {base}"
                with self.subTest(line=line):
                    self.assertEqual(set(self.reply(line)), {base + "sub"})

    def test_no_daemon_is_quiet(self):
        uri = "qemu+unix:///session?socket=/nonexistent/vpc/libvirt-sock"
        for line in (f"virt-provision -c {uri} --pool ",
                     f"virt-provision -c {uri} attach --domain ",
                     f"virt-provision -c {uri} info --pool p --volume ",
                     f"virt-provision --connect={uri} --network network="):
            with self.subTest(line=line):
                self.assertEqual(self.reply(line), [])
        self.assertEqual(self.reply("virt-provision --pool ",
                                    env_extra={"LIBVIRT_DEFAULT_URI": uri}),
                         [])


class CompletionFromDaemon(unittest.TestCase):
    """Names from a real libvirtd: an isolated session daemon with a pool,
    a volume, a network and a shut-off domain."""

    POOL, VOLUME, NETWORK, DOMAIN = "vpcpool", "vpcvol.qcow2", "vpcnet", "vpcdom"

    @classmethod
    def setUpClass(cls):
        need("virsh", "libvirt-clients")
        cls.dir = tempfile.mkdtemp(prefix="vpc.", dir="/tmp")
        cls.addClassCleanup(H.purge_daemon, cls.dir)
        cls.env = H.start_daemon(cls.dir)
        cls.uri = cls.env["VP_TEST_URI"]
        images = cls.env["VP_TEST_IMAGES"]

        def virsh(*args):
            run(["virsh", "-q", "-c", cls.uri, *args])

        virsh("pool-create-as", cls.POOL, "dir", "--target", images)
        virsh("vol-create-as", cls.POOL, cls.VOLUME, "1M", "--format", "qcow2")
        xml = os.path.join(cls.dir, "objects.xml")
        with open(xml, "w") as f:
            f.write(f"<network><name>{cls.NETWORK}</name>"
                    f"<bridge name='vpcbr0'/></network>")
        virsh("net-define", xml)
        with open(xml, "w") as f:
            f.write(f"""<domain type='qemu'>
  <name>{cls.DOMAIN}</name><memory unit='MiB'>64</memory>
  <os><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{images}/{cls.VOLUME}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <target dev='sda' bus='sata'/><readonly/>
    </disk>
  </devices>
</domain>
""")
        virsh("define", xml)

    def reply(self, line, **kw):
        words, err = complete(line, **kw)
        self.assertEqual(err, "", f"completing '{line}' printed errors")
        return words

    def virsh_names(self, *args):
        out = run(["virsh", "-q", "-c", self.uri, *args]).stdout
        return {w.strip() for w in out.splitlines() if w.strip()}

    def test_pools(self):
        pools = self.virsh_names("pool-list", "--all", "--name")
        self.assertIn(self.POOL, pools)
        for line in (f"virt-provision -c {self.uri} --pool ",
                     f"virt-provision --connect={self.uri} --pool=",
                     f"virt-provision --connect {self.uri} attach --pool ",
                     f"virt-provision info -c {self.uri} --pool "):
            with self.subTest(line=line):
                self.assertEqual(set(self.reply(line)), pools)
        self.assertEqual(self.reply(f"virt-provision -c {self.uri} "
                                    f"provision -p vpcp"), [self.POOL])
        # no -c: LIBVIRT_DEFAULT_URI
        self.assertEqual(self.reply("virt-provision --pool vpc",
                                    env_extra={"LIBVIRT_DEFAULT_URI":
                                               self.uri}),
                         [self.POOL])

    def test_volumes(self):
        for line in (f"virt-provision -c {self.uri} info --pool {self.POOL} "
                     f"--volume ",
                     f"virt-provision info --connect={self.uri} "
                     f"--pool={self.POOL} --volume=vpc"):
            with self.subTest(line=line):
                self.assertEqual(self.reply(line), [self.VOLUME])
        # which pool's volumes: none without --pool
        self.assertEqual(self.reply(f"virt-provision -c {self.uri} info "
                                    f"--volume "), [])

    def test_domains(self):
        for line in (f"virt-provision -c {self.uri} attach --domain ",
                     f"virt-provision -c {self.uri} attach -p {self.POOL} -d ",
                     f"virt-provision -c {self.uri} convert --domain vpc",
                     f"virt-provision --connect={self.uri} convert "
                     f"--domain="):
            with self.subTest(line=line):
                self.assertEqual(self.reply(line), [self.DOMAIN])
        self.assertEqual(self.reply("virt-provision attach --domain ",
                                    env_extra={"LIBVIRT_DEFAULT_URI":
                                               self.uri}),
                         [self.DOMAIN])

    def test_disks_of_domain(self):
        for line in (f"virt-provision -c {self.uri} convert "
                     f"--domain {self.DOMAIN} --disk ",
                     f"virt-provision convert -c {self.uri} -d {self.DOMAIN} "
                     f"--disk=v"):
            with self.subTest(line=line):
                self.assertEqual(self.reply(line), ["vda"])
        # with --domain, convert takes no file names
        self.assertEqual(self.reply(f"virt-provision -c {self.uri} convert "
                                    f"-d {self.DOMAIN} /"), [])

    def test_networks(self):
        self.assertEqual(self.reply(f"virt-provision -c {self.uri} "
                                    f"--network network="),
                         [self.NETWORK])
        self.assertEqual(self.reply(f"virt-provision -c {self.uri} "
                                    f"--network=network=vpc"),
                         [self.NETWORK])

    def test_readline(self):
        """Through a pty, readline splits the words itself: the URI of a
        test daemon holds ':' and '=', and so does --pool=."""
        got = interactive_complete(
            [f"virt-provision -c {self.uri} --pool vpcp\t",
             f"virt-provision --connect={self.uri} info --pool={self.POOL} "
             f"--volume=vpcv\t",
             "virt-provision image x.qcow2 --preallocation=meta\t",
             "virt-provision -c qemu:///syst\t"])
        self.assertEqual(got, [
            f"-c {self.uri} --pool {self.POOL}",
            f"--connect={self.uri} info --pool={self.POOL} "
            f"--volume={self.VOLUME}",
            "image x.qcow2 --preallocation=metadata",
            "-c qemu:///system",
        ])


def interactive_complete(lines, timeout=60):
    """Types each of LINES (with its TABs) into an interactive bash that has
    sourced the completion and has virt-provision as a function printing its
    arguments; returns what each call printed."""
    need("bash", "bash")
    marker = "VPC-ARGS"
    pid, fd = pty.fork()
    if pid == 0:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "HOME": "/nonexistent", "TERM": "dumb", "PS1": "$ ",
               "INPUTRC": "/dev/null", "HISTFILE": "/dev/null",
               "LC_ALL": "C.UTF-8"}
        os.execve(shutil.which("bash"),
                  ["bash", "--norc", "--noprofile", "-i"], env)
    script = (f"source {shlex.quote(COMPLETION)}\n"
              # split so that the echo of this line does not hold the marker
              f"virt-provision() {{ printf '%s-%s:%s;\\n' VPC ARGS \"$*\"; }}\n")
    script += "".join(line + "\n" for line in lines) + "exit\n"
    os.write(fd, script.encode())
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                if out.count(marker.encode() + b":") >= len(lines):
                    break
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os.close(fd)
    text = out.decode(errors="replace")
    return re.findall(marker + r":(.*);\r?\n", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
