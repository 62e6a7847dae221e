"""`python -m tests.cluster.short_claims ARGS...` is `python -m bot ARGS...` with publishers'
channel claims lasting $PAPERFEED_DRILL_CLAIM_LEASE seconds instead of 30.

A drill that SIGKILLs a publisher then waits seconds, not half a minute, before another takes
its channels over; nothing else differs (the claims are still renewed at a third of the lease).
"""

from __future__ import annotations

import os
from datetime import timedelta

from bot.cli import main
from bot.services import publisher

publisher.CLAIM_LEASE = timedelta(seconds=float(os.environ["PAPERFEED_DRILL_CLAIM_LEASE"]))

raise SystemExit(main())
