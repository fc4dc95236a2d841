"""optstate: realtime session options as immutable values.

Layers, each importing only those above it:

* core (``attrs`` + ``pyrsistent``): records and field policies (``_record``),
  ``Patch``/``diff``/``apply`` (``_patch``), errors (``_errors``);
* schema: ``optstate.openai`` — the OpenAI Realtime records, wire codec, rules;
* edges, each behind an optional extra and imported only on demand:
  ``optstate.livekit`` (the adapter), ``optstate.server`` (a loopback Realtime
  server), ``optstate.strategies`` and ``optstate.testing`` (Hypothesis).
"""

from ._codec import Codec, Refusal
from ._connection import Overruled, Rejection
from ._errors import InvalidOption, OptStateError, StaleSession, UnsupportedInDialect
from ._patch import Patch, apply, diff, full_patch, get, patch, set
from ._store import SessionState, Store, WriteResult
from ._unknown import Unknown

__all__ = [
    "Codec",
    "InvalidOption",
    "OptStateError",
    "Overruled",
    "Patch",
    "Refusal",
    "Rejection",
    "SessionState",
    "StaleSession",
    "Store",
    "Unknown",
    "UnsupportedInDialect",
    "WriteResult",
    "apply",
    "diff",
    "full_patch",
    "get",
    "patch",
    "set",
]

# Public classes report the public module, in reprs, pickles and docs
# (``optstate.Patch``, not ``optstate._patch.Patch``): pickle finds them here.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj
