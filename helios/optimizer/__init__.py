"""The MPT + Black-Litterman optimizer (issue #5): the seed's five steps on PyPortfolioOpt.

- ``views``: what a request may hold (pairs, ML predictions and confidences, the options) and the
  view-horizon convention (a prediction over h days becomes the annual view r x 365 / h);
- ``model``: the five steps (Ledoit-Wolf covariance, market-cap prior, implied equilibrium
  returns, ML views with Idzorek confidences, max Sharpe) and their fallbacks, a pure function;
- ``service``: ``hx.optimizer``, which feeds the model from the database and the configuration.

Kept import-light on purpose: PyPortfolioOpt pulls in cvxpy (and scikit-learn for Ledoit-Wolf),
which cost about a second to import, so ``model`` imports them on first use and ``import helios``
stays fast for the dashboard and the scheduler.
"""
