"""`featlint run` never touches the network: connections fail at once with a clear message, and
torchvision and timm weights come from the local caches or not at all.

Weights do not matter for what the run checks (trainability, shapes and optimizer membership are the same
with random values), so a missing file is not an error: the architecture keeps its random initialisation and
the report says so.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any
from urllib.parse import urlparse

_LOCAL_NAMES = {"localhost", "", None}


class NetworkBlocked(ConnectionRefusedError):
    """Raised instead of connecting: an OSError, so code that handles a failed connection still works."""


def _is_local(host: object) -> bool:
    if host in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def block_network(attempts: list[str]) -> None:
    """Refuse every connection and name lookup that leaves the machine; local ones (DataLoader workers,
    a local process group) still work. Each refused attempt is recorded for the report."""

    def refuse(where: str) -> NetworkBlocked:
        attempts.append(where)
        return NetworkBlocked(f"featlint run blocks network access (tried to reach {where}); the script must "
                              "run offline: use local files or the torch hub cache")

    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_getaddrinfo = socket.getaddrinfo

    def address_text(address: Any) -> tuple[bool, str]:
        if isinstance(address, tuple) and address:
            return _is_local(address[0]), f"{address[0]}:{address[1]}" if len(address) > 1 else str(address[0])
        return True, str(address)  # a Unix socket path

    def connect(self: socket.socket, address: Any) -> None:
        local, text = address_text(address)
        if self.family in (socket.AF_INET, socket.AF_INET6) and not local:
            raise refuse(text)
        return original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        local, text = address_text(address)
        if self.family in (socket.AF_INET, socket.AF_INET6) and not local:
            raise refuse(text)
        return original_connect_ex(self, address)

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_local(host.decode() if isinstance(host, bytes) else host):
            raise refuse(f"{host}:{port}")
        return original_getaddrinfo(host, port, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo


class MissingWeights(dict):
    """Stands in for a state dict that is not in the local cache; loading it changes nothing."""


def cached_weights_path(url: str) -> str:
    """Where `torch.hub.load_state_dict_from_url` keeps this URL's file."""
    import torch.hub

    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(urlparse(url).path))


def intercept_weights(notes: list[str]) -> None:
    """Pretrained weights load from the local cache when present; otherwise the model keeps random values.
    torchvision's and timm's loaders are patched when the script imports them (hooks.py)."""
    import torch.hub
    from torch import nn

    from featlint.runtime.hooks import after_import

    original_load_state_dict = nn.Module.load_state_dict

    def load_state_dict(self: nn.Module, state_dict: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(state_dict, MissingWeights):
            from torch.nn.modules.module import _IncompatibleKeys

            return _IncompatibleKeys([], [])
        return original_load_state_dict(self, state_dict, *args, **kwargs)

    def never_download(url: str, *args: Any, **kwargs: Any) -> None:
        raise NetworkBlocked(f"featlint run never downloads ({url}); put the file in {torch.hub.get_dir()} "
                             "or load it from a local path")

    nn.Module.load_state_dict = load_state_dict  # type: ignore[method-assign]
    torch.hub.download_url_to_file = never_download  # load_state_dict_from_url looks it up here
    after_import("torchvision.models._api", lambda module: _torchvision_weights(module, notes))
    after_import("timm.models._builder", lambda module: _timm_weights(module, notes))


def _random_init(notes: list[str], what: str) -> None:
    note = (f"{what} is not in the local cache: the model keeps its random initialisation (trainability, shapes "
            "and optimizer membership do not depend on it)")
    if note not in notes:
        notes.append(note)


def _torchvision_weights(api: Any, notes: list[str]) -> None:
    original_get_state_dict = api.WeightsEnum.get_state_dict

    def get_state_dict(self: Any, *args: Any, **kwargs: Any) -> Any:
        if os.path.isfile(cached_weights_path(self.url)):
            return original_get_state_dict(self, *args, **kwargs)
        _random_init(notes, f"{type(self).__name__}.{self.name}")
        return MissingWeights()

    api.WeightsEnum.get_state_dict = get_state_dict


def _timm_weights(builder: Any, notes: list[str]) -> None:
    """timm's `pretrained=True` downloads from the Hugging Face hub (offline in the child: HF_HUB_OFFLINE)."""
    original = builder.load_pretrained

    def load_pretrained(model: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(model, *args, **kwargs)
        except (OSError, RuntimeError, ValueError) as error:  # not cached: offline hub errors, blocked sockets
            config = getattr(model, "pretrained_cfg", None) or {}
            name = config.get("hf_hub_id") or config.get("architecture") or type(model).__name__
            _random_init(notes, f"timm's pretrained weights for {name} ({type(error).__name__})")
            return None

    builder.load_pretrained = load_pretrained
