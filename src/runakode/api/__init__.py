from runakode.api.app import StoredSubmissions, create_app, create_status_app
from runakode.api.native import EXECUTE_EXAMPLE, Submit
from runakode.api.routes import NATIVE_MAX_BODY_BYTES as MAX_BODY_BYTES
from runakode.api.status import HealthCheck
from runakode.availability import LanguageVersions

__all__ = [
    "EXECUTE_EXAMPLE",
    "MAX_BODY_BYTES",
    "HealthCheck",
    "LanguageVersions",
    "StoredSubmissions",
    "Submit",
    "create_app",
    "create_status_app",
]
