"""Terminal output shared by every command: one rich console, and lines printed exactly as given (no markup)."""
from rich.console import Console
from rich.text import Text

console = Console()


def say(text: str, fit: bool = False) -> None:
    """Print a line as it is; fit: on a terminal, cut it to the console's width rather than wrap it (piped output
    and logs keep whole lines)."""
    if fit and console.is_terminal:
        console.print(Text(text), overflow="ellipsis", no_wrap=True, crop=True, highlight=False)
    else:
        console.print(text, markup=False, highlight=False, soft_wrap=True)


class Refused(ValueError):
    """Bad input or nothing to do: the message is one line; `code` is the exit status (2: bad input)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code
