"""CompressedLayer's position check: column-major order, strictly increasing, linear time."""

import numpy as np
import pytest

from eie.compression.model import CompressedLayer
from eie.errors import FormatError

CB = np.array([0.0, 1.0, 2.0, 3.0])


def make(rows, cols):
    return CompressedLayer("fc", (3, 2), rows, cols, [1] * len(rows), CB, np.zeros(3), weight_bits=2)


def test_column_major_positions_are_accepted():
    # (0,0), (2,0), (1,1): column 0 then column 1, rows increasing within each.
    assert make([0, 2, 1], [0, 0, 1]).nnz == 3
    assert make([], []).nnz == 0 and make([2], [1]).nnz == 1


def test_repeated_position_is_refused():
    with pytest.raises(FormatError, match=r"layer 'fc': weight 2 at \(row 2, column 0\) is listed twice"):
        make([0, 2, 2], [0, 0, 0])


@pytest.mark.parametrize(
    "rows, cols, where",
    [
        ([2, 0], [0, 0], r"weight 1 at \(row 0, column 0\)"),  # rows decreasing within a column
        ([0, 1], [1, 0], r"weight 1 at \(row 1, column 0\)"),  # row-major, not column-major
    ],
)
def test_out_of_order_positions_are_refused(rows, cols, where):
    with pytest.raises(FormatError, match=where + " is out of column-major order"):
        make(rows, cols)
