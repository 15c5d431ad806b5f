"""A second stop signal while the scheduler is stopping (``helios up`` sends SIGTERM after the
terminal's SIGINT; a person presses Ctrl-C twice): the stop happens once, and the second signal
raises nothing. Before the fix the second call re-entered APScheduler's ``shutdown`` and the
scheduler exited with ``SchedulerNotRunningError`` and a traceback, after its jobs had ended."""

from __future__ import annotations

import signal
import threading

from apscheduler.schedulers.background import BackgroundScheduler

from jobs.scheduler import stopper


def test_a_second_signal_while_the_jobs_finish_stops_nothing_twice_and_raises_nothing() -> None:
    running, release = threading.Event(), threading.Event()
    scheduler = BackgroundScheduler()
    scheduler.add_job(lambda: (running.set(), release.wait(10)), id="slow")
    scheduler.start()
    assert running.wait(10), "the job did not start"
    shutdown = stopper(scheduler)
    errors: list[BaseException] = []

    def first() -> None:  # SIGINT: waits for the running job, as shutdown(wait=True) does
        try:
            shutdown(signal.SIGINT, None)
        except BaseException as error:  # what the test looks for
            errors.append(error)

    stopping = threading.Thread(target=first)
    stopping.start()
    for _ in range(100):  # until the first stop has begun
        if not scheduler.running:
            break
        stopping.join(0.05)
    assert not scheduler.running, "the first stop did not begin"
    shutdown(signal.SIGTERM, None)  # the second signal, while the job still runs
    release.set()
    stopping.join(10)
    assert not stopping.is_alive()
    assert errors == []
    assert not scheduler.running
