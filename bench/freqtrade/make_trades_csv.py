"""Freqtrade's latest backtest result (a zip in the results folder) to the parity CSV layout of
``helios replay --trades-csv``. Runs in the Freqtrade venv (pandas).

    python make_trades_csv.py RESULTS_DIR OUT.csv

Columns: ``pair`` (``BTC/USDT`` -> ``BTCZAR``), ``entry_time``, ``exit_time`` (UTC ISO 8601),
``entry_price``, ``exit_price``, ``exit_reason``, ``net_pnl`` (Freqtrade's ``profit_abs``) and
``amount``. Freqtrade's reasons map to ours: ``stop_loss`` -> STOPPED_OUT, ``force_exit`` (the
end of the data) -> CLOSED, ``roi`` -> TAKE_PROFIT before the 72 h holding limit and TIMEOUT at
it (the strategy's ``minimal_roi`` is ``{"0": 0.06, "4320": -1}``: any price exits at 72 h).
"""

import json
import sys
import zipfile
from pathlib import Path

import pandas as pd

TIMEOUT_MINUTES = 4320
ISO = "%Y-%m-%dT%H:%M:%S+00:00"


def reason(row: pd.Series) -> str:
    if row.exit_reason == "stop_loss":
        return "STOPPED_OUT"
    if row.exit_reason == "force_exit":
        return "CLOSED"
    if row.exit_reason == "roi":
        return "TIMEOUT" if row.trade_duration >= TIMEOUT_MINUTES else "TAKE_PROFIT"
    return str(row.exit_reason).upper()


def main(argv: list[str]) -> int:
    results, out = Path(argv[0]), Path(argv[1])
    latest = json.loads((results / ".last_result.json").read_text())["latest_backtest"]
    with zipfile.ZipFile(results / latest) as archive:
        name = next(
            n
            for n in archive.namelist()
            if n.endswith(".json")
            and "_config" not in n
            and "_market_change" not in n
            and not n.endswith("_wallet.json")
        )
        data = json.loads(archive.read(name))
    strategy = next(iter(data["strategy"]))
    trades = pd.DataFrame(data["strategy"][strategy]["trades"])
    columns = ["pair", "entry_time", "exit_time", "entry_price", "exit_price", "exit_reason"]
    if trades.empty:
        pd.DataFrame(columns=[*columns, "net_pnl", "amount"]).to_csv(out, index=False)
        print(f"result: {latest}; 0 trades -> {out}")
        return 0
    frame = pd.DataFrame(
        {
            "pair": trades["pair"].str.replace("/USDT", "ZAR", regex=False),
            "entry_time": pd.to_datetime(trades["open_date"], utc=True).dt.strftime(ISO),
            "exit_time": pd.to_datetime(trades["close_date"], utc=True).dt.strftime(ISO),
            "entry_price": trades["open_rate"],
            "exit_price": trades["close_rate"],
            "exit_reason": trades.apply(reason, axis=1),
            "net_pnl": trades["profit_abs"],
            "amount": trades["amount"],
        }
    )
    frame = frame.sort_values(["entry_time", "pair"]).reset_index(drop=True)
    frame.to_csv(out, index=False)
    print(f"result: {latest}; {len(frame)} trades -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
