"""What is wrong with a path given as a file, said once for every reader.

    problem = file_problem("/dev/null")  # "is not a regular file (a device, pipe or socket), expected a file"

Path.is_file() is False for a missing path, a folder, /dev/null and a pipe alike, and
"no such file" misleads for all but the first (issue 21). A pipe must also be refused
before it is opened: reading one waits for a writer that may never come.
"""
import stat
from pathlib import Path


def file_problem(path):
    """Why `path` is not a readable regular file, as a phrase after "<path>: "; None when it is one."""
    try:
        mode = Path(path).stat().st_mode  # follows links: a link to a file is a file
    except (FileNotFoundError, NotADirectoryError):  # the latter: a file used as a folder on the way
        return "no such file"
    except PermissionError:
        return "cannot be reached: permission denied"
    except ValueError:  # Path.stat's answer to a NUL character
        return "is not a valid path (it holds a NUL character)"
    except OSError as e:  # e.g. a name too long, a loop of links
        return f"cannot be reached: {e.strerror or e}"
    if stat.S_ISDIR(mode):
        return "is a folder, expected a file"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a device, pipe or socket), expected a file"
    return None
