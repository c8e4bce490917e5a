"""OCI runtime-spec (v1.3.0) conformance suite, black-box, for any runtime with runc's CLI.

    python -m conformance --runtime /usr/local/bin/ocipy --runtime /usr/sbin/runc
    python -m conformance --runtime ocipy=/usr/local/bin/ocipy -k process. --format json
    python -m conformance.extract          # the MUST/SHOULD statements of the spec

Each check (checks_<spec file>.py) names the spec statement(s) it checks, builds its own busybox
bundle in a temporary directory, drives the runtime's create/start/state/kill/delete with a
private --root, observes from inside the container and cleans up. coverage.txt maps every
MUST/SHOULD statement of runtime.md, runtime-linux.md, config.md and config-linux.md to its
checks or to the reason it is not checked.
"""
