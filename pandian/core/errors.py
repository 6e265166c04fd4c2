"""The one kind of error a user can fix: a flag, a file, a spec or a model reference that is wrong.

Every check that blames the input raises an InputError (or a subclass: SpecError, DataError, ModelLoadError,
APIConfigError, StoreError) whose message names the culprit (file, line, field, or flag) and says what to do. The
command line prints it as one paragraph and exits with code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class InputError(ValueError):
    pass
