"""Import the handler named by _HANDLER, failing with AWS's init error types."""

import importlib

from worker_errors import error_payload


class InitError(Exception):
    def __init__(self, error):
        super().__init__(error["errorMessage"])
        self.error = error


def load_handler(handler_name):
    """Return the handler callable for a name like "index.handler" or "pkg/mod.fn"."""
    module_path, _, function_name = handler_name.rpartition(".")
    if not module_path or not function_name:
        raise InitError(
            {
                "errorMessage": f"Bad handler '{handler_name}': not enough values to unpack (expected 2, got 1)",
                "errorType": "Runtime.MalformedHandlerName",
                "requestId": "",
                "stackTrace": [],
            }
        )
    # AWS accepts a folder path before the module name.
    module_name = module_path.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InitError(
            error_payload(
                exc,
                error_type="Runtime.ImportModuleError",
                message=f"Unable to import module '{module_name}': {exc}",
            )
        ) from exc
    except SyntaxError as exc:
        raise InitError(
            error_payload(
                exc,
                error_type="Runtime.UserCodeSyntaxError",
                message=f"Syntax error in module '{module_name}': {exc}",
            )
        ) from exc
    except Exception as exc:
        # Code that runs at import time and fails: AWS reports its own type.
        raise InitError(error_payload(exc)) from exc
    handler = getattr(module, function_name, None)
    if not callable(handler):
        raise InitError(
            {
                "errorMessage": f"Handler '{function_name}' missing on module '{module_name}'",
                "errorType": "Runtime.HandlerNotFound",
                "requestId": "",
                "stackTrace": [],
            }
        )
    return handler
