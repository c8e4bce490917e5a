"""The first thing to work: run a container, see its output and status."""


def test_run_prints_and_exits_with_status(runtime, bundle):
    b = bundle(["sh", "-c", "echo hello from $(hostname); exit 7"])
    r = runtime("run", "--bundle", b, "smoke")
    assert r.returncode == 7, r.stderr
    assert r.stdout == "hello from runc\n"
    assert runtime.ids() == []
