"""The `mh` command line (typer). Each module registers one group of commands."""
