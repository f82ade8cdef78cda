"""Where ragqa keeps what it writes: the one owner of the default data directory.

The settings' ``data_dir`` (``RAGQA_DATA_DIR``) names it; without settings,
and as the settings' default, it is ``$XDG_DATA_HOME/ragqa`` (else
``~/.local/share/ragqa``). Caches, ragqa's own and the libraries' it drives,
live in its ``cache`` folder, so that one folder holds everything ragqa
wrote and removing it removes all of it.

>>> default_data_dir({"XDG_DATA_HOME": "/x"}), cache_dir(Path("/d"))
(PosixPath('/x/ragqa'), PosixPath('/d/cache'))
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The data directory when no setting names one (``environ``: the process's)."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ragqa"


def cache_dir(data_dir: Path) -> Path:
    """The caches' folder inside ``data_dir``: safe to delete, rebuilt on use."""
    return data_dir / "cache"
