"""Long-running loops started with the API (or alone by ``pigeon worker``)."""

from __future__ import annotations


def all_workers():
    from pigeon.workers.alerts import alert_evaluator
    from pigeon.workers.batches import batch_sender
    from pigeon.workers.compliance import registrar, reviewer
    from pigeon.workers.dispatcher import dispatcher
    from pigeon.workers.reporter import reporter

    return [reviewer, registrar, dispatcher, reporter, alert_evaluator, batch_sender]
