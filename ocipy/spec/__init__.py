"""The spec layer: OCI runtime-spec v1.3.0 config models, validation and pure helpers."""
