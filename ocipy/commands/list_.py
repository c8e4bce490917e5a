"""ocipy list: the containers under --root (runc's table or JSON)."""
import sys

from ocipy import jsonlite
from ocipy import state as st
from ocipy.errors import OcipyError


def run(g: dict, p: dict) -> int:
    root = g["root"]
    rows = []
    names = {0: "root"}
    for cid, uid in st.list_dirs(root):
        c = st.Container(root, cid)
        try:
            if not c.reload():
                continue
            r = c.oci_state()
            r["owner"] = names.get(uid) or _owner(uid, names)
            rows.append(r)
        except OcipyError:  # an unreadable container must not hide the others
            continue
    out = sys.stdout
    if p.get("quiet"):
        out.write("".join(r["id"] + "\n" for r in rows))
    elif p.get("format") == "json":
        out.write(jsonlite.dumps(rows) if rows else "null")
        out.write("\n")
    else:
        table = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        table += [(r["id"], str(r["pid"]), r["status"], r["bundle"], r["created"], r["owner"]) for r in rows]
        out.write(format_table(table))
    out.flush()
    return 0


def _owner(uid: int, names: dict) -> str:
    """The user owning a container's state directory, as runc shows it: its
    name from /etc/passwd, else "#UID" (remembered in names)."""
    if uid not in names:
        names[uid] = f"#{uid}"
        try:
            with open("/etc/passwd", "rb") as f:
                for line in f.read().decode("utf-8", "replace").splitlines():
                    fields = line.split(":")
                    if len(fields) > 2 and fields[2] == str(uid):
                        names[uid] = fields[0]
                        break
        except OSError:
            pass
    return names[uid]


def format_table(rows: list) -> str:
    """Go's tabwriter as runc configures it: minwidth 12, padding 3."""
    n = len(rows[0])
    widths = [max(12, max(len(r[i]) for r in rows) + 3) for i in range(n - 1)]
    lines = []
    for r in rows:
        lines.append("".join(r[i].ljust(widths[i]) for i in range(n - 1)) + r[n - 1])
    return "\n".join(lines) + "\n"
