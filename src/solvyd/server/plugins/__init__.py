"""The server's plugins: its hook specifications (`hookspecs.py`), its built-in plugins, and
its plugin manager (`manager.py`), built once at start. Services find notifiers, forges and
artifact stores here, built-ins and third-party plugins alike. (`solvyd.plugins`, the facade
for plugin authors, is never imported by Solvyd itself.)"""

from solvyd.server.plugins.manager import ArtifactStoreFactory, ServerPlugins, server_plugins

__all__ = ["ArtifactStoreFactory", "ServerPlugins", "server_plugins"]
