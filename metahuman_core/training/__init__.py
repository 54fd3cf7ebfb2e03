"""Persona training (DESIGN §10): dataset → gates → trainer runs → evaluation → activation.

Modules: dataset (memories → pairs), anchors, pii, runs (directory contract), gates (approval,
auto-approval, emergency controls), local (`mh train local`), evaluation, activate, pipeline
(the nightly pass). The trainer itself lives in the top-level `trainer` package.
"""
