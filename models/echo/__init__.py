"""The smallest useful model: an echo server and a client that reconnects with backoff.

It is the README's "writing your first model" example and the ``echo`` scenario.
"""

from .client import EchoClient
from .server import EchoServer

__all__ = ["EchoClient", "EchoServer"]
