"""The faces of MetaHuman OS: the Textual app, the `mh` CLI and the REST API.

Importing this package (or the CLI) must not import Textual: the TUI is loaded only when opened.
"""
