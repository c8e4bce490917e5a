"""ocipy.pathlite against os.path: the same answers for the same str paths
(the hot paths use pathlite to keep `os` out; a difference would be a bug)."""
import os
import random

import pytest

from ocipy import pathlite

SAMPLES = ["", ".", "..", "/", "//", "///", "a", "a/", "a//", "/a", "//a", "///a", "a/b", "a/b/", "/a/b/",
           "a/./b", "a/../b", "../a", "../../a", "/..", "/../a", "a/b/../../..", "./", "//a/../b",
           "a/.", "a/..", "/a/b/c/../../d", "x//y///z", "/.a/..b/...", "..a/b.."]


def _random_paths(n=3000, seed=7):
    rnd = random.Random(seed)
    parts = ["", ".", "..", "a", "bb", "..c", ".d"]
    for _ in range(n):
        k = rnd.randint(0, 6)
        p = "/".join(rnd.choice(parts) for _ in range(k))
        if rnd.random() < 0.4:
            p = "/" * rnd.randint(1, 3) + p
        yield p


@pytest.mark.parametrize("fn", ["dirname", "basename", "normpath", "abspath", "isdir", "exists", "lexists"])
def test_same_as_os_path(fn):
    mine, ref = getattr(pathlite, fn), getattr(os.path, fn)
    for p in SAMPLES + list(_random_paths()):
        assert mine(p) == ref(p), (fn, p)


def test_join_two_parts():
    for a in SAMPLES:
        for b in SAMPLES:
            assert pathlite.join(a, b) == os.path.join(a, b), (a, b)


def test_realpath_follows_links_like_os(tmp_path, monkeypatch):
    d = tmp_path
    (d / "dir" / "sub").mkdir(parents=True)
    os.symlink("dir", d / "l1")                   # relative
    os.symlink(str(d / "dir" / "sub"), d / "abs")  # absolute
    os.symlink("../l1/sub", d / "dir" / "up")      # through another link
    os.symlink("loop2", d / "loop1")
    os.symlink("loop1", d / "loop2")               # a loop
    os.symlink("missing/x", d / "dangling")
    os.symlink(".", d / "dir" / "self")
    monkeypatch.chdir(d)
    cases = ["l1", "l1/sub", "abs", "abs/..", "dir/up", "dir/up/../..", "loop1", "loop1/x", "dangling",
             "dangling/y", "nope/../l1", "dir/self/self/sub", "l1/../abs/../../l1", ".", "..", "/", "",
             str(d / "l1" / "sub" / ".." / "sub"), "//l1", "l1//sub/"]
    for p in cases + list(_random_paths(300)):
        assert pathlite.realpath(p) == os.path.realpath(p), p


def test_makedirs_like_os(tmp_path):
    target = str(tmp_path / "a" / "b" / "c")
    pathlite.makedirs(target, 0o700, exist_ok=True)
    assert os.path.isdir(target) and os.stat(target).st_mode & 0o777 == 0o700 & ~_umask()
    pathlite.makedirs(target, 0o700, exist_ok=True)  # exists: fine
    with pytest.raises(FileExistsError):
        pathlite.makedirs(target)
    (tmp_path / "f").write_text("")
    with pytest.raises(FileExistsError):  # a file in the way, even with exist_ok
        pathlite.makedirs(str(tmp_path / "f"), exist_ok=True)
    with pytest.raises(NotADirectoryError):
        pathlite.makedirs(str(tmp_path / "f" / "x"), exist_ok=True)
    pathlite.makedirs(str(tmp_path / "t" / "u") + "/", exist_ok=True)
    assert os.path.isdir(tmp_path / "t" / "u")


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m
