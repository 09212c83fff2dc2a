"""The alert evaluator driven pass by pass at an explicit ``now`` (time travel, no sleeping).

The evaluator's event loop runs in a thread of its own, so a test works whatever loop the
test process may already be running in its main thread."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta

from pigeon.alerts.channels import SmtpSettings
from pigeon.config import Secret
from pigeon.services.alert_evaluation import PlatformLimits
from pigeon.workers.alerts import Evaluator
from tests.support.smtp import SmtpServer

SCHEDULE = (timedelta(minutes=1), timedelta(minutes=5))


class Passes:
    """An evaluator on its own event loop; ``passes(now)`` runs one pass at ``now``."""

    def __init__(self, pigeon, smtp: SmtpServer | None = None, **options) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        settings = {"zone": pigeon.settings.timezone, "quiet": timedelta(hours=1),
                    "schedule": SCHEDULE, "timeout": timedelta(seconds=2),
                    "smtp": SmtpSettings(host="127.0.0.1" if smtp else None,
                                         port=smtp.port if smtp else 25,
                                         user=smtp.user if smtp else None,
                                         password=Secret(smtp.password) if smtp and
                                         smtp.password else None,
                                         sender="alerts@pigeon.test", tls="off"),
                    "limits": PlatformLimits(timedelta(minutes=10), 10**6, 10**6),
                    "connector_grace": timedelta(hours=12)} | options
        self.evaluator = Evaluator(pigeon.db, pigeon.box, **settings)

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=120)

    def __call__(self, now: datetime):
        return self.run(self.evaluator.run_pass(now))

    def close(self) -> None:
        self.run(self.evaluator.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()
