"""Customer-value predictions: BTYD purchase models (BG/NBD, Pareto/NBD), Gamma-Gamma spend, CLV.

Pure cores over NumPy arrays; `summary.py` turns a transaction table into their inputs.
"""
