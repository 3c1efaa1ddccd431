"""plux plugin that LocalStack looks up by LAMBDA_RUNTIME_EXECUTOR=local-python.

The entry point in pyproject.toml names this class; LocalStack instantiates it
and calls load() to get the executor class.
"""

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class LocalPythonRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "local-python"

    def load(self, *args, **kwargs):
        # Imported late, like LocalStack's docker plugin: plux may list plugins
        # before LocalStack's Lambda modules are ready to import.
        from tap_localstack_executor.executor import LocalPythonRuntimeExecutor

        return LocalPythonRuntimeExecutor
