"""The HTTP boundary: the client (login, frames, pages), error translation, redaction and
parsing of the API's JSON into models."""
