"""An HTTP fake of the Kubernetes API server, for the Kubernetes executor and deploy target.

No cluster can run on the machines Solvyd is tested on, so the Kubernetes code is tested
against this fake instead (DESIGN.md, "Tests"). It speaks the real REST paths and JSON shapes
of the API server (https://kubernetes.io/docs/reference/kubernetes-api/), as the official
clients send and read them: objects with ``apiVersion``/``kind``/``metadata``, errors as
``Status`` objects, ``resourceVersion`` bumped on every write.

``core.py`` holds the store and the server; each API group's resources live in a module of
their own that adds its routes (``pods.py``: core/v1 pods, logs, exec, secrets, events;
``apps.py``: apps/v1 deployments and their rollout).
"""
