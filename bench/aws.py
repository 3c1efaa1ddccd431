"""The bench's LocalStacks by port: endpoint and boto3 clients (built by tests/support/aws.py)."""

from tests.support import aws as support_aws


def endpoint(port):
    return f"http://localhost:{port}"


def client(service, port, pool=32, read_timeout=60, attempts=3):
    return support_aws.client(endpoint(port), service, pool=pool, read_timeout=read_timeout, attempts=attempts)


def clients(port, **options):
    """service -> client, one per service (tests.support.aws.Clients) for the LocalStack on `port`."""
    return support_aws.Clients(endpoint(port), **options)
