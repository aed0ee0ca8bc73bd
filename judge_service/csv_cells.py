"""CSV cells a spreadsheet shows as text, never runs as a formula (OWASP "CSV Injection").

Shared by the server's CSV export and the client's: both write values that users chose
(external ids, metadata) or judges wrote (replies), and a spreadsheet opening the file
would evaluate a cell such as `=HYPERLINK(...)`.
"""

from typing import TypeVar

T = TypeVar("T")

# What a spreadsheet reads as the start of a formula: OWASP's list.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: T) -> T | str:
    """A string starting like a formula gets a leading `'`; other values (numbers) are kept."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
