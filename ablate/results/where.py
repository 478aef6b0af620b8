"""KEY=VALUE on the command line (--where, --baseline): which cells of a records column a value names."""
import pandas as pd


def matches(column: pd.Series, value: str) -> pd.Series:
    """Which cells equal a command-line value: null/none match missing values (and the text none), numbers
    compare as numbers."""
    if value.lower() in ("null", "none"):
        return column.isna() | (column.astype(str).str.lower() == value.lower())
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is not None and pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column == number
    return column.astype(str).str.lower() == value.lower()
