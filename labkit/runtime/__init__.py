"""labrun: the course's own OCI runtime, in Python, driven by containerd's runc shim as runc is.

    labrun [--root R] [--log F] [--log-format json] create --bundle B --pid-file P ID
    labrun start ID;  labrun state ID;  labrun kill [--all] ID SIG;  labrun delete [--force] ID

One module per verb (create, start, state, kill, delete, exec, ps, pause, update, features), and the parts
they share: `store` (a container's record under --root), `init` (the process that becomes
the container), `mounts`, `process` (user, capabilities, rlimits, exec), `seccomp`,
`resources` (cgroups), `hooks`, `log`. Imports stay within the stdlib and labkit's kernel,
cgroups and errors: every verb is a new process, and init must have imported everything it
will ever need before it enters the container's root (see `init`).
"""
