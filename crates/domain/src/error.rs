use std::fmt;

/// What went wrong, in terms every protocol can map to its own status and code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No or bad credentials (401).
    Unauthorized,
    /// Authenticated, allowed to see the thing, but not to do this (403).
    Denied,
    /// The credential (a registry token) was not issued for this (403, with a login
    /// challenge naming the scope to ask for).
    InsufficientScope,
    /// Malformed repository or collection name.
    NameInvalid,
    /// Repository (or collection) unknown, or invisible to the caller.
    NameUnknown,
    BlobUnknown,
    BlobUploadUnknown,
    BlobUploadInvalid,
    DigestInvalid,
    ManifestUnknown,
    ManifestInvalid,
    ManifestBlobUnknown,
    SizeInvalid,
    /// Requested byte range cannot be satisfied (416).
    RangeInvalid,
    TooLarge,
    /// Generic bad request (400).
    Invalid,
    NotFound,
    Conflict,
    Unsupported,
    TooManyRequests,
    Unavailable,
    Internal,
}

impl ErrorKind {
    pub fn http_status(self) -> u16 {
        use ErrorKind::*;
        match self {
            Unauthorized => 401,
            Denied | InsufficientScope => 403,
            NameInvalid | DigestInvalid | ManifestInvalid | ManifestBlobUnknown | SizeInvalid | BlobUploadInvalid
            | Invalid => 400,
            NameUnknown | BlobUnknown | BlobUploadUnknown | ManifestUnknown | NotFound => 404,
            RangeInvalid => 416,
            TooLarge => 413,
            Conflict => 409,
            Unsupported => 405,
            TooManyRequests => 429,
            Unavailable => 503,
            Internal => 500,
        }
    }

    /// The code of the OCI distribution error envelope (and of the REST API).
    pub fn code(self) -> &'static str {
        use ErrorKind::*;
        match self {
            Unauthorized => "UNAUTHORIZED",
            Denied | InsufficientScope => "DENIED",
            NameInvalid => "NAME_INVALID",
            NameUnknown => "NAME_UNKNOWN",
            BlobUnknown => "BLOB_UNKNOWN",
            BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            DigestInvalid => "DIGEST_INVALID",
            ManifestUnknown => "MANIFEST_UNKNOWN",
            ManifestInvalid => "MANIFEST_INVALID",
            ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            SizeInvalid => "SIZE_INVALID",
            RangeInvalid => "RANGE_INVALID",
            TooLarge => "SIZE_INVALID",
            Invalid => "INVALID",
            NotFound => "NOT_FOUND",
            Conflict => "CONFLICT",
            Unsupported => "UNSUPPORTED",
            TooManyRequests => "TOOMANYREQUESTS",
            Unavailable => "UNAVAILABLE",
            Internal => "INTERNAL",
        }
    }
}

/// The one error type of the domain; each protocol renders it once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// Set when the caller has to sign in again in a particular way: the Globus Auth
    /// `authorization_parameters` (session_required_policies, …) clients act on.
    pub authorization_parameters: Option<serde_json::Value>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), authorization_parameters: None }
    }
    pub fn unauthorized(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthorized, m)
    }
    pub fn denied(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Denied, m)
    }
    pub fn invalid(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, m)
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, m)
    }
    pub fn conflict(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, m)
    }
    /// An internal failure. The detail goes to the log; callers see a generic message.
    pub fn internal(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, m)
    }
    /// Authenticated, but the session does not meet a requirement: sign in again with
    /// these Globus `authorization_parameters`.
    pub fn reauthenticate(m: impl Into<String>, params: serde_json::Value) -> Self {
        Error { kind: ErrorKind::Denied, message: m.into(), authorization_parameters: Some(params) }
    }
    pub fn status(&self) -> u16 {
        self.kind.http_status()
    }
    /// The message shown to clients: internal details are not exposed.
    pub fn public_message(&self) -> &str {
        if self.kind == ErrorKind::Internal {
            "internal server error; the server log has the details"
        } else {
            &self.message
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
