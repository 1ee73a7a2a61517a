"""The one neighbourhood type: adjacency orders between units, from any way of writing borders.

Borders arrive as pairs (``from, to``), as a 0/1 matrix or from a gazetteer;
every consumer (the spread model, the GLM's neighbour term through
``Dataset.neighbours``, the alarms) works from the orders computed here:
0 on the diagonal, 1 for neighbours, 2 for neighbours of neighbours, ...,
``inf`` when no chain of borders connects two units (``surveillance::nbOrder``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from forecast.errors import InputError, ParameterError

__all__ = ["adjacency_order"]


def adjacency_order(
    adjacency: pd.DataFrame | np.ndarray | Sequence[tuple[Any, Any]],
    units: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """Adjacency orders (shortest path lengths over shared borders) between all units.

    Parameters
    ----------
    adjacency
        Either a pair list (DataFrame with columns ``from, to`` or a sequence
        of ``(a, b)`` tuples; borders count in both directions) or a square
        0/1 matrix (DataFrame labelled by unit ids, or an ndarray with ``units``).
    units
        Unit ids in the order wanted; required for an ndarray, and adds units
        without any border (isolated, order ``inf``) to a pair list.

    Returns
    -------
    pandas.DataFrame
        Square float matrix, index = source unit, columns = receiving unit;
        0 on the diagonal, 1 for neighbours, 2 for neighbours of neighbours,
        ..., ``inf`` when unreachable.

    Examples
    --------
    >>> adjacency_order([("a", "b"), ("b", "c")]).to_numpy().tolist()
    [[0.0, 1.0, 2.0], [1.0, 0.0, 1.0], [2.0, 1.0, 0.0]]
    """
    if isinstance(adjacency, np.ndarray):
        if units is None:
            raise ParameterError(
                "an adjacency ndarray needs units=[...] naming its rows and columns"
            )
        matrix = pd.DataFrame(adjacency, index=list(units), columns=list(units))
        return adjacency_order(matrix)
    if isinstance(adjacency, pd.DataFrame) and {"from", "to"} <= set(adjacency.columns):
        pairs = adjacency[["from", "to"]]
        labels = list(pd.unique(pd.concat([pairs["from"], pairs["to"]]).astype(str)))
        if units is not None:
            labels = [str(u) for u in units] + [
                u for u in labels if u not in {str(v) for v in units}
            ]
        position = {u: k for k, u in enumerate(labels)}
        rows = pairs["from"].astype(str).map(position).to_numpy()
        cols = pairs["to"].astype(str).map(position).to_numpy()
        graph = sparse.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(labels), len(labels))
        )
    elif isinstance(adjacency, pd.DataFrame):
        labels = [str(u) for u in adjacency.index]
        if [str(c) for c in adjacency.columns] != labels:
            raise InputError(
                "the adjacency matrix must have the same unit ids, in the same order, as rows and columns"
            )
        values = adjacency.to_numpy(dtype=float)
        if not np.isin(values, (0.0, 1.0)).all():
            raise InputError(
                "the adjacency matrix must hold only 0 and 1; for adjacency orders pass from,to,order"
            )
        graph = sparse.csr_matrix(values)
    else:
        return adjacency_order(pd.DataFrame(list(adjacency), columns=["from", "to"]), units)
    orders = csgraph.shortest_path(graph, directed=False, unweighted=True)
    return pd.DataFrame(
        orders, index=pd.Index(labels, dtype=object), columns=pd.Index(labels, dtype=object)
    )
