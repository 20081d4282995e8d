//! Test doubles for the registry client (see issue 3).
