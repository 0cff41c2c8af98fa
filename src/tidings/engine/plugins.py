"""Imports every module that registers engine loops, job handlers, preparers, gates or listeners.

Both `tidings serve` and `tidings worker` import this, so a capability is either loaded
everywhere or nowhere. Add a module here when it registers something.
"""

from tidings.engine import dispatcher  # noqa: F401
from tidings.messaging import preparers  # noqa: F401
