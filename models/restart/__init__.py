"""The restart pack: a ComfyUI server killed and restarted, and ``comfyui-node``'s client.

See ``README.md`` beside this file for what is modelled, from which source, and where the
document and the library disagree.
"""

from .client import ClientOptions, ComfyClient
from .config import RestartConfig
from .server import ComfyServer, Terminate
from .world import SIGKILL, SIGTERM, ClientSpec, RestartWorld

__all__ = ["SIGKILL", "SIGTERM", "ClientOptions", "ClientSpec", "ComfyClient", "ComfyServer",
           "RestartConfig", "RestartWorld", "Terminate"]
