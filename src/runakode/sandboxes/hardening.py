# The limits every sandbox gets, whichever backend starts it. Each one says why.

# The launcher is the sandbox's first process; it takes the job on stdin (sandbox/launcher/).
LAUNCHER_ARGV = ("python3", "-I", "-S", "/opt/runakode/launcher.py")
# An unprivileged user that owns nothing in the image.
SANDBOX_UID = 10001
SANDBOX_GID = 10001
# Only these variables (plus the image's own): nothing of the service's environment leaks in.
SANDBOX_ENV = (
    "PATH=/usr/local/bin:/usr/bin:/bin",
    "HOME=/tmp",
    "LANG=C.UTF-8",
    "TMPDIR=/tmp",
)
# The host's name would tell the program where it runs; it needs none.
HOSTNAME = "sandbox"
# gVisor enforces RLIMIT_NPROC inside the sandbox: a fork or thread bomb gets EAGAIN at this
# many tasks. fsize stops one file from taking all of a tmpfs at once; core dumps of a
# crashing program are of no use and would cost memory.
RLIMITS = {"nproc": 64, "nofile": 256, "fsize": 64 << 20, "core": 0}
# A host-side backstop only: it also counts gVisor's own threads, and reaching it kills the
# whole sandbox (measured: 512 leaves room for the 64 tasks above).
HOST_PIDS_LIMIT = 512
# The only writable places, in the sandbox's own memory: a job cannot fill the host's disk.
WORK_DIR_BYTES = 64 << 20
TMP_DIR_BYTES = 64 << 20
SHM_BYTES = 16 << 20
# Booting a gVisor sandbox takes ~0.3 s idle and several seconds on a loaded host; the program's
# own deadline is enforced inside, so this only bounds a sandbox that stopped answering.
BOOT_ALLOWANCE_S = 10.0
EXIT_WAIT_S = 5.0
