"""How much of a replay step the pure rules take, from the benchmark's profile.

``python bench/replay_vs_freqtrade.py --only helios --from 2023-01-01 --to 2023-02-01 --keep DIR``
leaves ``DIR/profile/replay.prof`` (the replay under cProfile) and prints the run's steps; then
``python bench/profile_rules.py DIR/profile/replay.prof STEPS`` prints the time a step spends in
the pure rule modules (the risk decision and its record, the 7 checks, the pre-checks, the lock
rule, the monitor's rule, the halt triggers, the re-arm, the equity marks, the volatility
estimate) and in the money conversions (every bar's prices made Decimals for the write), beside
the engine's whole step: the figures of docs/replay.md ("Could it meet 3x?"). Each module's
time is the cumulative time of its functions called from outside it, so nothing is counted
twice; under cProfile, which slows fine-grained Python most, so an upper bound.
"""

from __future__ import annotations

import argparse
import pstats

RULES = (
    "risk/inputs.py",
    "risk/checks.py",
    "risk/prechecks.py",
    "risk/sizing.py",
    "risk/volatility.py",
    "positions/monitor.py",
    "halt_triggers.py",
    "rearm.py",
    "equity_marks.py",
    "pair_locks.py",
)
MONEY = ("money.py",)


def _module(filename: str) -> str | None:
    return filename.split("/helios/", 1)[1] if "/helios/" in filename else None


def entered_time(stats: pstats.Stats, modules: tuple[str, ...]) -> float:
    """Cumulative seconds of the functions of ``modules`` called from outside them."""
    total = 0.0
    for (filename, _line, _name), (_cc, _nc, _tt, cumulative, callers) in stats.stats.items():  # type: ignore[attr-defined]
        if _module(filename) not in modules:
            continue
        if any(_module(caller[0]) not in modules for caller in callers):
            total += cumulative
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("profile", help="replay.prof from the benchmark's --keep folder")
    parser.add_argument("steps", type=int, help="the profiled run's steps (its --json 'steps')")
    args = parser.parse_args()
    stats = pstats.Stats(args.profile)
    engine = sum(
        value[3]
        for (filename, _line, name), value in stats.stats.items()  # type: ignore[attr-defined]
        if name == "run" and filename.endswith("replay/engine.py")
    )
    for label, seconds in (
        ("pure rules", entered_time(stats, RULES)),
        ("money conversions", entered_time(stats, MONEY)),
        ("the engine's step, all of it", engine),
    ):
        print(f"{label}: {seconds:.3f} s, {1000 * seconds / args.steps:.3f} ms a step")


if __name__ == "__main__":
    main()
