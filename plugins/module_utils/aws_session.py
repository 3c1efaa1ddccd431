# Copyright: Contributors to the tap.ebook_storage collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""AWS clients for one module run: retrying clients, call counting, cached reads."""

from __future__ import annotations

import copy
import functools
import json

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

try:
    import botocore.config
    import botocore.exceptions
    import botocore.session
except ImportError:
    botocore = None  # Handled by AnsibleAWSModule

# Exceptions that count as a failed AWS call (a ClientError such as AccessDenied, or a botocore error).
AWS_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) if botocore else ()

# The botocore settings of every client the collection's modules make (the one place they are defined): an
# endpoint that stops answering stops a task within about a minute, not after botocore's 60 s read timeout
# times 5 attempts of every call. A task's aws_config option wins key by key: amazon.aws merges it over the
# config= that AwsSession.client passes to module.client (Config.merge, one level deep), so a ``retries``
# given there replaces this one whole and should name its ``mode`` too.
DEFAULT_AWS_CONFIG = {"connect_timeout": 5, "read_timeout": 15, "retries": {"max_attempts": 3, "mode": "standard"}}


def error_code(exc):
    """The AWS error code of a botocore ClientError, else the exception's class name."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = (response.get("Error") or {}).get("Code")
        if code:
            return code
    return type(exc).__name__


def error_summary(exc):
    """A short JSON-safe description of an AWS error, for check results."""
    response = getattr(exc, "response", None)
    message = str(exc)
    if isinstance(response, dict):
        message = (response.get("Error") or {}).get("Message") or message
    return {"error": error_code(exc), "message": message, "operation": getattr(exc, "operation_name", None)}


def effective_aws_config(module, config=None):
    """The botocore settings a client of this module run gets: DEFAULT_AWS_CONFIG, then *config* (the
    module's own settings), then the task's aws_config, as amazon.aws merges them."""
    return {**DEFAULT_AWS_CONFIG, **(config or {}), **(module.params.get("aws_config") or {})}


def share_botocore_loader():
    """Let every botocore session of this process share one data loader.

    amazon.aws makes each client in a new boto3 session, and each session would parse the endpoint data and
    the service models again: about 0.6 s of JSON for the eight clients of one post_deploy run, more than
    its API calls take on LocalStack. The data is read-only, so one loader (which caches what it has read)
    serves them all. Only this module process is affected.
    """
    if botocore is None or getattr(botocore.session.create_loader, "tap_shared", False):
        return
    shared = functools.cache(botocore.session.create_loader)
    shared.tap_shared = True
    botocore.session.create_loader = shared


class AwsSession:
    """Hands out one retrying client per service and counts every API call made.

    ``call`` always uses the retry decorator; ``read`` also remembers the answer
    (or the error) so that several checks reading the same thing make one call.
    Every client gets DEFAULT_AWS_CONFIG under the task's aws_config; after
    ``assume_role`` the clients made from then on act as that role.
    """

    def __init__(self, module):
        share_botocore_loader()
        self.module = module
        self._clients = {}
        self._cache = {}
        self.calls = {}
        self._credentials = {}

    def _count(self, model=None, **kwargs):
        if model is None:
            return
        key = f"{model.service_model.service_name}:{model.name}"
        self.calls[key] = self.calls.get(key, 0) + 1

    def client(self, service, config=None):
        """The retrying client of *service*, made on first use; *config* (a dict of botocore settings of the
        module's own, e.g. a connection pool size) goes between the defaults and the task's aws_config."""
        if service not in self._clients:
            # A copy: botocore rewrites the retries dict of the Config it is given.
            settings = copy.deepcopy({**DEFAULT_AWS_CONFIG, **(config or {})})
            client = self.module.client(
                service,
                retry_decorator=AWSRetry.jittered_backoff(),
                config=botocore.config.Config(**settings),
                **self._credentials,
            )
            raw = getattr(client, "client", client)
            raw.meta.events.register("before-call", self._count)
            self._clients[service] = client
        return self._clients[service]

    def assume_role(self, role_arn, session_name):
        """Clients made from now on act as *role_arn* (STS AssumeRole, a one-hour session); clients already
        made keep their identity. Raises the AWS error when the role cannot be assumed."""
        credentials = self.call("sts", "assume_role", RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
        self._credentials = dict(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )

    def call(self, service, operation, **params):
        return getattr(self.client(service), operation)(aws_retry=True, **params)

    def _remembered(self, key, fetch):
        """``fetch()``'s answer for ``key``, asked once: an error is remembered and raised again too."""
        if key not in self._cache:
            try:
                self._cache[key] = (True, fetch())
            except AWS_ERRORS as e:
                self._cache[key] = (False, e)
        ok, value = self._cache[key]
        if not ok:
            raise value
        return value

    def read(self, service, operation, **params):
        key = (service, operation, json.dumps(params, sort_keys=True, default=str))
        return self._remembered(key, lambda: self.call(service, operation, **params))

    def forget(self, service, operation, **params):
        key = (service, operation, json.dumps(params, sort_keys=True, default=str))
        self._cache.pop(key, None)

    def forget_all(self):
        """After writes whose effects several cached reads may show."""
        self._cache.clear()

    def paginate(self, service, operation, result_key, **params):
        """Every page of a paginated read, joined (remembered like ``read``)."""
        key = (service, "paginate:" + operation, json.dumps(params, sort_keys=True, default=str))

        @AWSRetry.jittered_backoff()
        def _all_pages():
            client = self.client(service)
            paginator = getattr(client, "client", client).get_paginator(operation)
            return paginator.paginate(**params).build_full_result()

        return self._remembered(key, lambda: _all_pages().get(result_key, []))

    def api_calls(self):
        return {"total": sum(self.calls.values()), "by_operation": dict(sorted(self.calls.items()))}

    def endpoint(self):
        return self.module.params.get("endpoint_url") or "the default AWS endpoint"
