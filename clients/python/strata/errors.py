"""Errors the server answers, one class per error code of docs/api.md.

Every class carries the server's fields: ``code``, ``status`` (HTTP), ``message``
and ``fields`` (the whole ``error`` object, for fields a code adds).
"""

from __future__ import annotations

import builtins
from typing import Any, Dict, Optional, Type


class StrataError(Exception):
    """An error answer of a Strata server (or of the client, before any request)."""

    code = "internal"
    status = 500

    def __init__(self, message: str, *, code: Optional[str] = None,
                 status: Optional[int] = None, fields: Optional[Dict[str, Any]] = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.fields: Dict[str, Any] = dict(fields or {"code": self.code, "message": message})
        # The error's data (`fields` of the answer: a dataset, a version, an
        # errno) is readable as attributes too: ``e.version``, ``e.errno``.
        nested = self.fields.get("fields")
        extra = dict(nested) if isinstance(nested, dict) else {}
        for key, value in [*self.fields.items(), *extra.items()]:
            if key not in ("code", "message", "status", "fields") and not hasattr(self, key):
                setattr(self, key, value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r}, status={self.status})"


def _error(name: str, code: str, status: int, doc: str,
           bases: tuple = (StrataError,)) -> Type[StrataError]:
    cls = type(name, bases, {"code": code, "status": status, "__doc__": doc})
    return cls  # type: ignore[return-value]


InvalidDescriptionError = _error("InvalidDescriptionError", "invalid_description", 400,
                                 "The description does not parse or check (line:col in the message).")
InvalidFunctionError = _error("InvalidFunctionError", "invalid_function", 400,
                              "A function deploy refused: declaration, type check or dry run.")
InvalidLayoutError = _error("InvalidLayoutError", "invalid_layout", 400,
                            "A fragment cannot be laid out (unknown fragment, unbound parameter, region outside).")
InvalidRequestError = _error("InvalidRequestError", "invalid_request", 400,
                             "A malformed path, query parameter or body, or a value past its limit.")
SizeMismatchError = _error("SizeMismatchError", "size_mismatch", 400,
                           "A payload whose size is not its layout's; nothing is registered.")
UnauthorizedError = _error("UnauthorizedError", "unauthorized", 401,
                           "A mutating request without the configured bearer token.")
NotFoundError = _error("NotFoundError", "not_found", 404,
                       "Unknown dataset, version, function, pipeline, lease or route.")
TimeoutError = _error("TimeoutError", "timeout", 408,
                      "A wait ran out before the version was committed.",
                      (StrataError, builtins.TimeoutError))
ConflictError = _error("ConflictError", "conflict", 409,
                       "Dataset exists, region already published, version already committed.")
MissingRegionError = _error("MissingRegionError", "missing_region", 409,
                            "The copies of a version do not cover the region asked for.")
NotCommittedError = _error("NotCommittedError", "not_committed", 409,
                           "Attach of a version that is not committed, without a wait.")
GoneError = _error("GoneError", "gone", 410, "The bytes of a committed version are lost.")
NotHereError = _error("NotHereError", "not_here", 421,
                      "Asked of the wrong process, or a copy that cannot be mapped on this node.")
FunctionFailedError = _error("FunctionFailedError", "function_failed", 422,
                             "A function call threw or returned the wrong shape.")
LimitExceededError = _error("LimitExceededError", "limit_exceeded", 422,
                            "A function call crossed its time, memory or output limit.")
PayloadTooLargeError = _error("PayloadTooLargeError", "payload_too_large", 413,
                              "A body over the server's limits.")
UnsupportedMediaTypeError = _error("UnsupportedMediaTypeError", "unsupported_media_type", 415,
                                   "A content type the route does not take.")
InsufficientStorageError = _error("InsufficientStorageError", "insufficient_storage", 507,
                                  "No tier of the node can take the copy, even by spilling.")
ChecksumMismatchError = _error("ChecksumMismatchError", "checksum_mismatch", 500,
                               "Stored or transferred bytes do not match their CRC-32.")
WireProtocolError = _error("WireProtocolError", "wire_protocol", 502,
                           "Another runtime answered the data plane with something that is not a frame.")
UnavailableError = _error("UnavailableError", "unavailable", 503,
                          "A node holding needed bytes does not answer, or the service is closing.")
BusyError = _error("BusyError", "busy", 503, "A bound is reached: try again later.")
InternalError = _error("InternalError", "internal", 500, "An error the server did not expect (a bug).")

#: Error class of each server error code.
ERRORS: Dict[str, Type[StrataError]] = {
    cls.code: cls for cls in (
        InvalidDescriptionError, InvalidFunctionError, InvalidLayoutError, InvalidRequestError,
        SizeMismatchError, UnauthorizedError, NotFoundError, TimeoutError, ConflictError,
        MissingRegionError, NotCommittedError, GoneError, NotHereError, FunctionFailedError,
        LimitExceededError, PayloadTooLargeError, UnsupportedMediaTypeError,
        InsufficientStorageError, ChecksumMismatchError, WireProtocolError, UnavailableError,
        BusyError, InternalError,
    )
}


def error_of(status: int, body: Any) -> StrataError:
    """The exception of an error answer: its code's class, with the server's fields."""
    fields = body.get("error") if isinstance(body, dict) else None
    if not isinstance(fields, dict):
        fields = {"code": "internal", "message": f"HTTP {status}: {str(body)[:200]}"}
    code = str(fields.get("code", "internal"))
    message = str(fields.get("message", ""))
    cls = ERRORS.get(code, StrataError)
    return cls(message, code=code, status=status, fields=fields)
