"""ocipy state: the OCI state JSON, as runc prints it."""
import sys

from ocipy import jsonlite
from ocipy import state as st


def run(g: dict, p: dict) -> int:
    c = st.Container.load(g["root"], p["container_id"])
    sys.stdout.write(jsonlite.dumps(c.oci_state(), indent=2))
    sys.stdout.flush()
    return 0
