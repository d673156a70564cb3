"""RTSP status codes and their reason phrases (RFC 2326 §7.1.1)."""

from __future__ import annotations

from enum import IntEnum


class StatusCode(IntEnum):
    """Status codes of RFC 2326 §7.1.1, named after their reason phrases."""

    CONTINUE = 100
    OK = 200
    CREATED = 201
    LOW_ON_STORAGE_SPACE = 250
    MULTIPLE_CHOICES = 300
    MOVED_PERMANENTLY = 301
    MOVED_TEMPORARILY = 302
    SEE_OTHER = 303
    NOT_MODIFIED = 304
    USE_PROXY = 305
    BAD_REQUEST = 400
    UNAUTHORIZED = 401
    PAYMENT_REQUIRED = 402
    FORBIDDEN = 403
    NOT_FOUND = 404
    METHOD_NOT_ALLOWED = 405
    NOT_ACCEPTABLE = 406
    PROXY_AUTHENTICATION_REQUIRED = 407
    REQUEST_TIMEOUT = 408
    GONE = 410
    LENGTH_REQUIRED = 411
    PRECONDITION_FAILED = 412
    REQUEST_ENTITY_TOO_LARGE = 413
    REQUEST_URI_TOO_LARGE = 414
    UNSUPPORTED_MEDIA_TYPE = 415
    PARAMETER_NOT_UNDERSTOOD = 451
    CONFERENCE_NOT_FOUND = 452
    NOT_ENOUGH_BANDWIDTH = 453
    SESSION_NOT_FOUND = 454
    METHOD_NOT_VALID_IN_THIS_STATE = 455
    HEADER_FIELD_NOT_VALID_FOR_RESOURCE = 456
    INVALID_RANGE = 457
    PARAMETER_IS_READ_ONLY = 458
    AGGREGATE_OPERATION_NOT_ALLOWED = 459
    ONLY_AGGREGATE_OPERATION_ALLOWED = 460
    UNSUPPORTED_TRANSPORT = 461
    DESTINATION_UNREACHABLE = 462
    INTERNAL_SERVER_ERROR = 500
    NOT_IMPLEMENTED = 501
    BAD_GATEWAY = 502
    SERVICE_UNAVAILABLE = 503
    GATEWAY_TIMEOUT = 504
    RTSP_VERSION_NOT_SUPPORTED = 505
    OPTION_NOT_SUPPORTED = 551


# Reason phrases are only recommendations (§7.1.1); these are the RFC's, title-cased as servers
# in the field send them.
REASON_PHRASES: dict[int, str] = {
    StatusCode.CONTINUE: "Continue",
    StatusCode.OK: "OK",
    StatusCode.CREATED: "Created",
    StatusCode.LOW_ON_STORAGE_SPACE: "Low on Storage Space",
    StatusCode.MULTIPLE_CHOICES: "Multiple Choices",
    StatusCode.MOVED_PERMANENTLY: "Moved Permanently",
    StatusCode.MOVED_TEMPORARILY: "Moved Temporarily",
    StatusCode.SEE_OTHER: "See Other",
    StatusCode.NOT_MODIFIED: "Not Modified",
    StatusCode.USE_PROXY: "Use Proxy",
    StatusCode.BAD_REQUEST: "Bad Request",
    StatusCode.UNAUTHORIZED: "Unauthorized",
    StatusCode.PAYMENT_REQUIRED: "Payment Required",
    StatusCode.FORBIDDEN: "Forbidden",
    StatusCode.NOT_FOUND: "Not Found",
    StatusCode.METHOD_NOT_ALLOWED: "Method Not Allowed",
    StatusCode.NOT_ACCEPTABLE: "Not Acceptable",
    StatusCode.PROXY_AUTHENTICATION_REQUIRED: "Proxy Authentication Required",
    StatusCode.REQUEST_TIMEOUT: "Request Time-out",
    StatusCode.GONE: "Gone",
    StatusCode.LENGTH_REQUIRED: "Length Required",
    StatusCode.PRECONDITION_FAILED: "Precondition Failed",
    StatusCode.REQUEST_ENTITY_TOO_LARGE: "Request Entity Too Large",
    StatusCode.REQUEST_URI_TOO_LARGE: "Request-URI Too Large",
    StatusCode.UNSUPPORTED_MEDIA_TYPE: "Unsupported Media Type",
    StatusCode.PARAMETER_NOT_UNDERSTOOD: "Parameter Not Understood",
    StatusCode.CONFERENCE_NOT_FOUND: "Conference Not Found",
    StatusCode.NOT_ENOUGH_BANDWIDTH: "Not Enough Bandwidth",
    StatusCode.SESSION_NOT_FOUND: "Session Not Found",
    StatusCode.METHOD_NOT_VALID_IN_THIS_STATE: "Method Not Valid in This State",
    StatusCode.HEADER_FIELD_NOT_VALID_FOR_RESOURCE: "Header Field Not Valid for Resource",
    StatusCode.INVALID_RANGE: "Invalid Range",
    StatusCode.PARAMETER_IS_READ_ONLY: "Parameter Is Read-Only",
    StatusCode.AGGREGATE_OPERATION_NOT_ALLOWED: "Aggregate Operation Not Allowed",
    StatusCode.ONLY_AGGREGATE_OPERATION_ALLOWED: "Only Aggregate Operation Allowed",
    StatusCode.UNSUPPORTED_TRANSPORT: "Unsupported Transport",
    StatusCode.DESTINATION_UNREACHABLE: "Destination Unreachable",
    StatusCode.INTERNAL_SERVER_ERROR: "Internal Server Error",
    StatusCode.NOT_IMPLEMENTED: "Not Implemented",
    StatusCode.BAD_GATEWAY: "Bad Gateway",
    StatusCode.SERVICE_UNAVAILABLE: "Service Unavailable",
    StatusCode.GATEWAY_TIMEOUT: "Gateway Time-out",
    StatusCode.RTSP_VERSION_NOT_SUPPORTED: "RTSP Version Not Supported",
    StatusCode.OPTION_NOT_SUPPORTED: "Option Not Supported",
}


def reason_phrase(status_code: int) -> str:
    """The RFC's reason phrase for ``status_code``, or a generic one for its class."""
    phrase = REASON_PHRASES.get(status_code)
    if phrase is not None:
        return phrase
    return {1: "Informational", 2: "Success", 3: "Redirection", 4: "Client Error"}.get(
        status_code // 100, "Server Error"
    )
